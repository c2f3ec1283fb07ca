"""A partner organisation works on the reports referred to it, and only on those."""

from __future__ import annotations

import io
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image

from copa.audit.models import AuditEvent
from copa.db import db
from copa.reports import photos
from copa.reports.models import Report, TimelineEntry
from copa.routing.models import Partner, Referral, RoutingRule
from tests.factories import (
    PartnerFactory,
    UserFactory,
    bearer,
    load_reference_data,
    login,
    register_device,
    signed_in,
)

IN_MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}
CONTACT = {"name": "Sam", "email": "sam@example.org", "phone": "07700 900123"}


@pytest.fixture(autouse=True)
def photo_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    yield
    app.extensions.pop(photos.STORE_EXTENSION, None)


@pytest.fixture
def partners(app):
    """Partner X, to which offensive graffiti goes, and partner Y; each with a user."""
    load_reference_data(app)
    with app.app_context():
        x = PartnerFactory(name="Graffiti Busters", kind="council")
        y = PartnerFactory(name="Another Council", kind="council")
        db.session.add(
            RoutingRule(
                category_code="graffiti",
                area_level="any",
                answer_code="offensive",
                answer_value="yes",
                partner_id=x.id,
            )
        )
        db.session.commit()
        users = {
            "x": UserFactory(roles=["partner"], partner=x).email,
            "y": UserFactory(roles=["partner"], partner=y).email,
        }
        return {"x_id": x.id, "y_id": y.id, "users": users}


@pytest.fixture
def partner_x(client, partners):
    return bearer(login(client, partners["users"]["x"])["access_token"])


@pytest.fixture
def partner_y(client, partners):
    return bearer(login(client, partners["users"]["y"])["access_token"])


@pytest.fixture
def resident(client, partners):
    return bearer(register_device(client)["access_token"])


def submit(client, resident, **overrides) -> dict:
    body = {
        "category": "graffiti",
        "description": "Offensive slogans sprayed across the bus shelter.",
        "location": IN_MIDDLEHAVEN,
        "address_text": "Bus shelter, Middlesbrough Road",
        "occurred_at": "2026-01-10T08:30:00+00:00",
        "answers": {"offensive": "yes"},
    }
    body.update(overrides)
    response = client.post("/v1/reports", json=body, headers=resident)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def referral_of(app, report_id: str) -> str:
    with app.app_context():
        return str(
            db.session.scalar(
                sa.select(Referral.id).where(Referral.report_id == uuid.UUID(report_id))
            )
        )


def timeline_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(TimelineEntry))


def test_partner_acts_on_its_referral_and_the_resident_sees_each_note(
    app, client, resident, partner_x
):
    report = submit(client, resident, contact=CONTACT, share_contact_with_partner=True)
    referral_id = referral_of(app, report["id"])
    url = f"/v1/partner/referrals/{referral_id}"

    listed = client.get("/v1/partner/referrals", headers=partner_x).get_json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == referral_id
    assert listed["items"][0]["reference"] == report["reference"]
    assert listed["items"][0]["state"] == "sent" and listed["items"][0]["status"] == "routed"

    detail = client.get(url, headers=partner_x)
    assert detail.status_code == 200
    body = detail.get_json()
    assert body["category"] == {"code": "graffiti", "name": "Graffiti"}
    assert body["description"] == "Offensive slogans sprayed across the bus shelter."
    assert body["location"] == IN_MIDDLEHAVEN
    assert body["address_text"] == "Bus shelter, Middlesbrough Road"
    assert body["area"]["ward"] == {"code": "E05001497", "name": "Middlehaven"}
    assert body["answers"] == {"offensive": "yes"}
    assert body["occurred_at"].startswith("2026-01-10T08:30:00")
    assert body["contact"] == {**CONTACT, "phone": "+447700900123"}  # E.164, however typed
    assert body["photos"] == []

    acknowledged = client.post(f"{url}/acknowledge", headers=partner_x)
    assert acknowledged.status_code == 200
    assert acknowledged.get_json()["state"] == "acknowledged"
    assert acknowledged.get_json()["status"] == "acknowledged"
    assert acknowledged.get_json()["acknowledged_at"] is not None
    again = client.post(f"{url}/acknowledge", headers=partner_x)
    assert again.status_code == 200
    assert again.get_json() == acknowledged.get_json()  # repeating it changes nothing

    working = client.post(
        f"{url}/updates",
        json={
            "status": "in_progress",
            "public_note": "A cleaning crew is booked for Tuesday.",
            "external_reference": "MBC-2026-0042",
        },
        headers=partner_x,
    )
    assert working.status_code == 200
    assert working.get_json()["state"] == "in_progress"
    assert working.get_json()["status"] == "in_progress"
    assert working.get_json()["external_reference"] == "MBC-2026-0042"

    done = client.post(
        f"{url}/updates",
        json={"status": "resolved", "public_note": "The shelter has been cleaned."},
        headers=partner_x,
    )
    assert done.status_code == 200
    assert done.get_json()["state"] == "resolved" and done.get_json()["resolved_at"] is not None

    seen = client.get(f"/v1/reports/{report['id']}", headers=resident).get_json()
    assert seen["status"] == "resolved"
    assert [(e["to_status"], e["public_note"]) for e in seen["timeline"]] == [
        ("received", "Report received."),
        ("routed", "Passed to Graffiti Busters."),
        ("acknowledged", "Graffiti Busters has received it."),
        ("in_progress", "A cleaning crew is booked for Tuesday."),
        ("resolved", "The shelter has been cleaned."),
    ]


def test_acknowledging_may_give_the_partners_own_reference(app, client, resident, partner_x):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"

    acknowledged = client.post(
        f"{url}/acknowledge", json={"external_reference": " MBC-2026-0042 "}, headers=partner_x
    )
    assert acknowledged.status_code == 200, acknowledged.get_json()
    assert acknowledged.get_json()["external_reference"] == "MBC-2026-0042"
    assert acknowledged.get_json()["state"] == "acknowledged"
    assert client.get(url, headers=partner_x).get_json()["external_reference"] == "MBC-2026-0042"

    # Repeated without a body: acknowledged still, the reference kept.
    again = client.post(f"{url}/acknowledge", headers=partner_x)
    assert again.status_code == 200
    assert again.get_json() == acknowledged.get_json()
    # Repeated with a new reference: the newest is kept, and the change is in the audit log.
    renamed = client.post(
        f"{url}/acknowledge", json={"external_reference": "MBC-2026-0043"}, headers=partner_x
    )
    assert renamed.get_json()["external_reference"] == "MBC-2026-0043"
    assert renamed.get_json()["acknowledged_at"] == acknowledged.get_json()["acknowledged_at"]
    with app.app_context():
        changes = db.session.scalars(
            sa.select(AuditEvent.after).where(
                AuditEvent.action == "referral.acknowledge",
                AuditEvent.target_id == uuid.UUID(url.rsplit("/", 1)[1]),
            )
        ).all()
    assert changes == [{"external_reference": "MBC-2026-0043"}]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"external_reference": "MBC-1", "status": "resolved"}, "status"),
        ({"reference": "MBC-1"}, "reference"),
        ({"external_reference": ""}, "external_reference"),
        ({"external_reference": "x" * 201}, "external_reference"),
    ],
    ids=["a-field-of-the-updates-route", "unknown-field", "empty", "too-long"],
)
def test_acknowledging_refuses_what_it_does_not_take_and_changes_nothing(
    app, client, resident, partner_x, body, field
):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"

    refused = client.post(f"{url}/acknowledge", json=body, headers=partner_x)

    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert field in refused.get_json()["errors"]
    detail = client.get(url, headers=partner_x).get_json()
    assert detail["state"] == "sent" and detail["external_reference"] is None


def test_another_partner_cannot_read_acknowledge_or_update_it(
    app, client, resident, partner_x, partner_y
):
    report = submit(client, resident, contact=CONTACT, share_contact_with_partner=True)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"
    rows = timeline_rows(app)

    read = client.get(url, headers=partner_y)
    acknowledged = client.post(f"{url}/acknowledge", headers=partner_y)
    updated = client.post(f"{url}/updates", json={"status": "resolved"}, headers=partner_y)
    missing = client.get(f"/v1/partner/referrals/{uuid.uuid4()}", headers=partner_y)

    for response in (read, acknowledged, updated):
        assert response.status_code == 404
        assert response.get_json()["type"] == missing.get_json()["type"]  # same as missing
        assert report["reference"] not in response.get_data(as_text=True)
    assert client.get("/v1/partner/referrals", headers=partner_y).get_json()["total"] == 0
    assert timeline_rows(app) == rows
    assert client.get(url, headers=partner_x).get_json()["state"] == "sent"


@pytest.mark.parametrize(
    "extra",
    [
        {"contact": CONTACT, "share_contact_with_partner": False},
        {"contact": CONTACT},
        {"anonymous": True},
        {},
    ],
)
def test_contact_is_shown_only_when_the_resident_agreed(app, client, resident, partner_x, extra):
    report = submit(client, resident, **extra)

    body = client.get(
        f"/v1/partner/referrals/{referral_of(app, report['id'])}", headers=partner_x
    ).get_json()

    assert body["contact"] is None
    assert "sam@example.org" not in str(body)


def test_not_our_responsibility_sends_the_report_back_to_staff(app, client, resident, partner_x):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"

    response = client.post(
        f"{url}/updates",
        json={"status": "not_our_responsibility", "public_note": "This wall is private land."},
        headers=partner_x,
    )

    assert response.status_code == 200
    assert response.get_json()["state"] == "not_our_responsibility"
    assert response.get_json()["status"] == "received"
    seen = client.get(f"/v1/reports/{report['id']}", headers=resident).get_json()
    assert seen["status"] == "received"
    assert seen["destination"]["kind"] == "unrouted"
    assert seen["timeline"][-1]["public_note"] == "This wall is private land."
    with app.app_context():
        assert db.session.get(Report, uuid.UUID(report["id"])).unrouted is True
    # The referral is closed: the partner can no longer move the report.
    late = client.post(f"{url}/updates", json={"status": "resolved"}, headers=partner_x)
    assert late.status_code == 409
    assert client.post(f"{url}/acknowledge", headers=partner_x).status_code == 409


def test_update_the_workflow_does_not_allow_is_409_and_changes_nothing(
    app, client, resident, partner_x
):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"
    client.post(f"{url}/updates", json={"status": "resolved"}, headers=partner_x)
    rows = timeline_rows(app)

    response = client.post(
        f"{url}/updates",
        json={"status": "resolved", "external_reference": "X-1"},
        headers=partner_x,
    )

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/invalid-transition")
    assert timeline_rows(app) == rows
    assert client.get(url, headers=partner_x).get_json()["external_reference"] is None


def test_retried_update_with_the_same_key_is_applied_once(app, client, resident, partner_x):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}/updates"
    headers = {**partner_x, "Idempotency-Key": "update-1"}
    body = {"status": "in_progress", "public_note": "On it."}

    first = client.post(url, json=body, headers=headers)
    second = client.post(url, json=body, headers=headers)

    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    notes = [
        e["public_note"]
        for e in client.get(f"/v1/reports/{report['id']}", headers=resident).get_json()["timeline"]
    ]
    assert notes.count("On it.") == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"status": "closed"}, "status"),
        ({}, "status"),
        ({"status": "resolved", "public_note": "x" * 1001}, "public_note"),
        ({"status": "resolved", "public_note": "bad\x00note"}, "public_note"),
        ({"status": "resolved", "external_reference": "r" * 201}, "external_reference"),
        ({"status": "resolved", "priority": "high"}, "priority"),
    ],
)
def test_invalid_update_is_refused(app, client, resident, partner_x, body, field):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"

    response = client.post(f"{url}/updates", json=body, headers=partner_x)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get(url, headers=partner_x).get_json()["state"] == "sent"


def test_partner_sees_and_fetches_the_photos_of_its_referral_only(
    app, client, resident, partner_x, partner_y
):
    report = submit(client, resident)
    image = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(image, "JPEG")
    uploaded = client.post(
        f"/v1/reports/{report['id']}/photos",
        data={"photo": (io.BytesIO(image.getvalue()), "shelter.jpg", "image/jpeg")},
        content_type="multipart/form-data",
        headers=resident,
    ).get_json()

    body = client.get(
        f"/v1/partner/referrals/{referral_of(app, report['id'])}", headers=partner_x
    ).get_json()

    url = f"/v1/partner/photos/{uploaded['id']}"
    assert body["photos"] == [
        {
            "id": uploaded["id"],
            "content_type": "image/jpeg",
            "width": 40,
            "height": 30,
            "size_bytes": uploaded["size_bytes"],
            "url": url,
        }
    ]
    fetched = client.get(url, headers=partner_x)
    assert fetched.status_code == 200 and fetched.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(fetched.data)).size == (40, 30)
    # Another partner, and a resident (even the owner, on the partner route), cannot.
    assert client.get(url, headers=partner_y).status_code == 404
    assert client.get(url, headers=resident).status_code == 403


def test_referrals_are_listed_newest_first_and_filtered_by_state(app, client, resident, partner_x):
    first = submit(client, resident)
    second = submit(client, resident)
    client.post(
        f"/v1/partner/referrals/{referral_of(app, first['id'])}/acknowledge", headers=partner_x
    )

    everything = client.get("/v1/partner/referrals", headers=partner_x).get_json()
    acknowledged = client.get("/v1/partner/referrals?state=acknowledged", headers=partner_x)
    bad_state = client.get("/v1/partner/referrals?state=lost", headers=partner_x)

    assert [r["reference"] for r in everything["items"]] == [
        second["reference"],
        first["reference"],
    ]
    assert [r["reference"] for r in acknowledged.get_json()["items"]] == [first["reference"]]
    assert bad_state.status_code == 422


def test_partner_user_without_an_organisation_sees_nothing(app, client, resident, partner_x):
    submit(client, resident)
    with app.app_context():
        email = UserFactory(roles=["partner"]).email
    orphan = bearer(login(client, email)["access_token"])

    assert client.get("/v1/partner/referrals", headers=orphan).get_json()["total"] == 0


@pytest.mark.parametrize("role", ["resident", "reviewer", "admin"])
def test_only_partner_users_use_the_partner_api(app, client, resident, partner_x, role):
    report = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, report['id'])}"
    headers = bearer(signed_in(app, client, role)["access_token"])

    responses = [
        client.get("/v1/partner/referrals", headers=headers),
        client.get(url, headers=headers),
        client.post(f"{url}/acknowledge", headers=headers),
        client.post(f"{url}/updates", json={"status": "resolved"}, headers=headers),
    ]

    assert [r.status_code for r in responses] == [403] * 4


def test_deactivated_partner_keeps_its_referrals(app, client, resident, partners, partner_x):
    report = submit(client, resident)
    with app.app_context():
        db.session.get(Partner, partners["x_id"]).active = False
        db.session.commit()

    listed = client.get("/v1/partner/referrals", headers=partner_x).get_json()

    assert [r["reference"] for r in listed["items"]] == [report["reference"]]
