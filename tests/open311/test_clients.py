"""Admins register Open311 clients: the api_key is shown once and only its hash is kept."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.open311.models import Open311Client
from tests.factories import bearer, signed_in


@pytest.fixture
def admin(app, client, reference_data) -> dict:
    return bearer(signed_in(app, client, "admin")["access_token"])


def _services_with(client, api_key: str):
    return client.get(f"/open311/v2/requests.json?api_key={api_key}")


def test_the_api_key_is_shown_once_and_kept_only_as_a_hash(app, client, admin):
    created = client.post(
        "/v1/admin/open311-clients",
        json={"name": "FixMyStreet", "jurisdiction_id": "cleveland.police.uk"},
        headers=admin,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    api_key = body["api_key"]
    assert len(api_key) >= 40 and body["api_key_hint"] == api_key[-4:]
    assert created.headers["Location"].endswith(f"/v1/admin/open311-clients/{body['id']}")
    assert (body["extended_statuses"], body["status_without_key"], body["active"]) == (
        False,
        False,
        True,
    )

    shown = client.get(f"/v1/admin/open311-clients/{body['id']}", headers=admin).get_json()
    assert "api_key" not in shown
    listed = client.get("/v1/admin/open311-clients", headers=admin).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert "api_key" not in listed["items"][0]

    with app.app_context():
        row = db.session.execute(sa.select(Open311Client.__table__)).one()._asdict()
        assert api_key not in {str(value) for value in row.values()}
        assert row["api_key_hash"] == hashlib.sha256(api_key.encode()).hexdigest()
        events = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.target_kind == "open311_client")
        ).all()
        assert events == ["open311_client.create"]
    assert _services_with(client, api_key).status_code == 200


def test_a_replaced_key_stops_working_at_once(client, admin):
    created = client.post(
        "/v1/admin/open311-clients",
        json={"name": "FixMyStreet", "jurisdiction_id": "cleveland.police.uk"},
        headers=admin,
    ).get_json()
    replaced = client.post(f"/v1/admin/open311-clients/{created['id']}/api-key", headers=admin)
    assert replaced.status_code == 200
    new_key = replaced.get_json()["api_key"]
    assert new_key != created["api_key"]
    assert _services_with(client, created["api_key"]).status_code == 403
    assert _services_with(client, new_key).status_code == 200


def test_changes_are_audited_and_deactivation_refuses_the_key(app, client, admin):
    created = client.post(
        "/v1/admin/open311-clients",
        json={"name": "FixMyStreet", "jurisdiction_id": "cleveland.police.uk"},
        headers=admin,
    ).get_json()
    changed = client.patch(
        f"/v1/admin/open311-clients/{created['id']}",
        json={"name": "FixMyStreet (mySociety)", "active": False},
        headers=admin,
    )
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "FixMyStreet (mySociety)"
    assert _services_with(client, created["api_key"]).status_code == 403
    inactive = client.get("/v1/admin/open311-clients?active=false", headers=admin).get_json()
    assert [item["id"] for item in inactive["items"]] == [created["id"]]
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "open311_client.update")
        )
        assert event.before == {"name": "FixMyStreet", "active": True}
        assert event.after == {"name": "FixMyStreet (mySociety)", "active": False}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"jurisdiction_id": "cleveland.police.uk"}, "name"),
        ({"name": "FixMyStreet"}, "jurisdiction_id"),
        ({"name": "", "jurisdiction_id": "x"}, "name"),
        ({"name": "FMS", "jurisdiction_id": "x", "extended_statuses": 1}, "extended_statuses"),
        ({"name": "FMS", "jurisdiction_id": "x", "api_key": "mine"}, "api_key"),
    ],
)
def test_bad_client_bodies_are_problems_naming_the_field(client, admin, body, field):
    response = client.post("/v1/admin/open311-clients", json=body, headers=admin)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_an_unknown_client_is_404(client, admin):
    response = client.get(
        "/v1/admin/open311-clients/00000000-0000-0000-0000-000000000000", headers=admin
    )
    assert response.status_code == 404
