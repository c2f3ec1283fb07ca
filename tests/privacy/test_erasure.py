"""A resident's own data: what /v1/me shows, erasure, and the retention purge."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from copa.contacts.models import Contact
from copa.db import db, utcnow
from copa.privacy.service import purge_expired_contacts
from copa.reports.models import Report
from tests.factories import bearer, load_reference_data, register_device, signed_in

MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
NAME, EMAIL, PHONE = "Alex Example-Resident", "alex.resident@example.org", "07700 900456"
STORED_PHONE = "+447700900456"  # the number as it is kept (E.164)
CONTACT = {"name": NAME, "email": EMAIL, "phone": PHONE}


def _fly_tipping(**extra) -> dict:
    return {
        "category": "fly_tipping",
        "description": "Sofa dumped in the back lane.",
        "location": MIDDLESBROUGH,
        "answers": {"size": "small"},
        **extra,
    }


def _everything_a_resident_does(client, headers) -> None:
    assert (
        client.post(
            "/v1/reports",
            json=_fly_tipping(contact=CONTACT, share_contact_with_partner=True),
            headers={**headers, "Idempotency-Key": "erase-me-1"},
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/v1/feedback",
            json={"kind": "dissatisfaction", "text": "Nobody called me back.", "contact": CONTACT},
            headers=headers,
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/v1/confidence/votes", json={"option": "neither", "area": "E06000002"}, headers=headers
        ).status_code
        == 201
    )


def _database_mentions(app, *needles: str) -> list[str]:
    """Every table and column where any of the strings still appears."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is not None and any(n in str(value) for n in needles):
                        found.append(f"{table.name}.{column}")
    return found


def test_me_shows_what_is_held_about_the_resident(app, client):
    load_reference_data(app)
    tokens = register_device(client)
    headers = bearer(tokens["access_token"])
    _everything_a_resident_does(client, headers)
    me = client.get("/v1/me", headers=headers).get_json()
    assert me["kind"] == "resident" and me["id"] == tokens["device_id"]
    assert (me["reports"], me["feedback"], me["votes"], me["contact_details"]) == (1, 1, 1, 2)


def test_me_for_a_staff_user_shows_the_account(app, client):
    tokens = signed_in(app, client, "analyst")
    me = client.get("/v1/me", headers=bearer(tokens["access_token"])).get_json()
    assert (
        me["kind"] == "user"
        and me["roles"] == ["analyst"]
        and me["email"].endswith("@copa.example")
    )


def test_erasure_leaves_no_contact_detail_anywhere_and_keeps_submissions(app, client):
    load_reference_data(app)
    tokens = register_device(client)
    headers = bearer(tokens["access_token"])
    _everything_a_resident_does(client, headers)
    assert _database_mentions(app, NAME, EMAIL, STORED_PHONE)  # the check can see them before

    assert client.delete("/v1/me", headers=headers).status_code == 204

    assert _database_mentions(app, NAME, EMAIL, STORED_PHONE) == []
    assert _database_mentions(app, tokens["device_id"], tokens["device_id"].replace("-", "")) == [
        "device.id",
        "auth_session.device_id",
    ]  # only the install's own row and its revoked sign-in
    with app.app_context():
        report = db.session.scalars(sa.select(Report)).one()
        assert report.device_id is None and report.contact_id is None
        assert report.share_contact_with_partner is False
        assert report.description == "Sofa dumped in the back lane."  # kept for the public task
    # Every token of the install stops working at once.
    assert client.get("/v1/me", headers=headers).status_code == 401
    assert (
        client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    )


def test_staff_accounts_are_not_erased_through_me(app, client):
    tokens = signed_in(app, client, "reviewer")
    assert client.delete("/v1/me", headers=bearer(tokens["access_token"])).status_code == 403


def test_contact_details_past_retention_are_purged(app, client):
    load_reference_data(app)
    headers = bearer(register_device(client)["access_token"])
    old = client.post(
        "/v1/reports", json=_fly_tipping(contact={"email": "old@example.org"}), headers=headers
    )
    client.post(
        "/v1/reports", json=_fly_tipping(contact={"email": "new@example.org"}), headers=headers
    )
    with app.app_context():
        report = db.session.get(Report, __import__("uuid").UUID(old.get_json()["id"]))
        db.session.execute(
            sa.update(Contact)
            .where(Contact.id == report.contact_id)
            .values(created_at=utcnow() - timedelta(days=400))
        )
        db.session.commit()
        assert purge_expired_contacts() == 1
        assert db.session.scalars(sa.select(Contact.email)).all() == ["new@example.org"]
    assert (
        client.get(f"/v1/reports/{old.get_json()['id']}", headers=headers).get_json()["contact"]
        is None
    )
