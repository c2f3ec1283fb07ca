"""OPCC staff see the deliveries to partners that ran out of attempts, and send them again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from copa.db import db
from copa.outbox.models import DeliveryAttempt, MessageState, OutboxMessage
from tests.factories import PartnerFactory, bearer, signed_in

SECRET = "whsec_c2lnbmluZy1zZWNyZXQtb2YtdGhlLWhvdXNpbmctcGFydG5lcg=="
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def messages(app) -> dict[str, str]:
    """A dead message with its ten failed attempts, and a delivered one."""
    with app.app_context():
        partner = PartnerFactory(
            name="Thirteen Housing",
            kind="housing_provider",
            channel="webhook",
            endpoint_url="https://hooks.thirteen.example/copa",
            webhook_secrets=[SECRET],
        )
        dead = OutboxMessage(
            event_type="referral.created",
            partner=partner,
            channel="webhook",
            payload={"referral_id": str(uuid.uuid4())},
            state=MessageState.DEAD,
            attempts=10,
            last_error="503 Service Unavailable",
            next_attempt_at=START + timedelta(days=3),
            created_at=START,
        )
        delivered = OutboxMessage(
            event_type="referral.created",
            partner=partner,
            channel="webhook",
            payload={"referral_id": str(uuid.uuid4())},
            state=MessageState.DELIVERED,
            attempts=1,
            created_at=START + timedelta(hours=1),
            delivered_at=START + timedelta(hours=1),
        )
        db.session.add_all([dead, delivered])
        for number in range(10):
            db.session.add(
                DeliveryAttempt(
                    message=dead,
                    attempted_at=START + timedelta(hours=number),
                    duration_ms=120 + number,
                    status_code=503,
                    error="503 Service Unavailable",
                    outcome="dead" if number == 9 else "retry",
                )
            )
        db.session.commit()
        return {"dead": str(dead.id), "delivered": str(delivered.id)}


@pytest.fixture
def reviewer(app, client):
    return bearer(signed_in(app, client, "reviewer")["access_token"])


def test_staff_see_dead_deliveries_with_their_attempts(client, reviewer, messages):
    response = client.get("/v1/staff/deliveries?state=dead", headers=reviewer)

    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1
    [dead] = body["items"]
    assert dead["id"] == messages["dead"]
    assert dead["partner"]["name"] == "Thirteen Housing"
    assert dead["event_type"] == "referral.created"
    assert dead["state"] == "dead" and dead["attempts"] == 10
    assert dead["last_error"] == "503 Service Unavailable"
    assert dead["next_attempt_at"].startswith("2026-01-08T09:00:00")
    assert len(dead["delivery_attempts"]) == 10
    assert dead["delivery_attempts"][0] == {
        "attempted_at": "2026-01-05T09:00:00+00:00",
        "duration_ms": 120,
        "status_code": 503,
        "error": "503 Service Unavailable",
        "outcome": "retry",
    }
    assert dead["delivery_attempts"][-1]["outcome"] == "dead"
    assert SECRET not in response.get_data(as_text=True)


def test_all_deliveries_newest_first_without_a_state(client, reviewer, messages):
    body = client.get("/v1/staff/deliveries", headers=reviewer).get_json()

    assert [m["id"] for m in body["items"]] == [messages["delivered"], messages["dead"]]


def test_retrying_a_dead_delivery_starts_its_schedule_again(client, reviewer, messages):
    before = datetime.now(UTC)

    response = client.post(f"/v1/staff/deliveries/{messages['dead']}/retry", headers=reviewer)

    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "pending" and body["attempts"] == 0
    assert datetime.fromisoformat(body["next_attempt_at"]) >= before - timedelta(seconds=1)
    assert len(body["delivery_attempts"]) == 10  # the history stays
    assert client.get("/v1/staff/deliveries?state=dead", headers=reviewer).get_json()["total"] == 0


def test_delivered_or_unknown_message_cannot_be_retried(client, reviewer, messages):
    delivered = client.post(f"/v1/staff/deliveries/{messages['delivered']}/retry", headers=reviewer)
    unknown = client.post(f"/v1/staff/deliveries/{uuid.uuid4()}/retry", headers=reviewer)

    assert delivered.status_code == 409
    assert unknown.status_code == 404


def test_admins_may_retry_too(app, client, messages):
    admin = bearer(signed_in(app, client, "admin")["access_token"])

    response = client.post(f"/v1/staff/deliveries/{messages['dead']}/retry", headers=admin)

    assert response.status_code == 200


def test_unknown_state_is_refused(client, reviewer):
    response = client.get("/v1/staff/deliveries?state=lost", headers=reviewer)

    assert response.status_code == 422
    assert "state" in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["resident", "partner", "analyst", "resolution"])
def test_other_roles_cannot_see_or_retry_deliveries(app, client, messages, role):
    headers = bearer(signed_in(app, client, role)["access_token"])

    listed = client.get("/v1/staff/deliveries", headers=headers)
    retried = client.post(f"/v1/staff/deliveries/{messages['dead']}/retry", headers=headers)

    assert (listed.status_code, retried.status_code) == (403, 403)
