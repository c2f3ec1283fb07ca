"""Pushes to iPhones straight through APNs (token-based auth, HTTP/2 over TLS), against a fake
APNs on 127.0.0.1, delivered by the outbox relay."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.notifications.models import PushToken
from copa.outbox.channels import http as outbound
from copa.outbox.channels import push_transport
from copa.outbox.models import DeliveryAttempt, MessageState, OutboxMessage
from copa.relay.service import Relay, RelaySettings
from tests.notifications.fake_push import (
    ADDRESS,
    CONTACT_NAME,
    DESCRIPTION,
    PUBLIC_NOTE,
    ApnsAnswer,
    FakeApns,
    notify_resident,
    resident_with_report,
)
from tests.outbox.support import relay_until_settled, use_fast_relay


@pytest.fixture
def apns(app, monkeypatch, tmp_path):
    """A fake APNs the app pushes iOS tokens through, trusted through its test CA only."""
    use_fast_relay(monkeypatch, app, HTTP_TIMEOUT_SECONDS=2.0)
    with FakeApns() as fake:
        monkeypatch.setattr(outbound, "tls_context", fake.trust)
        for key, value in {
            "APNS_KEY_FILE": str(fake.key_file(tmp_path)),
            "APNS_KEY_ID": fake.key_id,
            "APNS_TEAM_ID": fake.team_id,
            "APNS_TOPIC": fake.topic,
            "APNS_URL": fake.url,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        yield fake
        push_transport.close_clients()


def message(message_id: uuid.UUID) -> OutboxMessage:
    db.session.close()
    return db.session.get(OutboxMessage, message_id)


def attempts(message_id: uuid.UUID) -> list[tuple[str, int | None]]:
    return [
        (a.outcome, a.status_code)
        for a in db.session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.attempted_at)
        )
    ]


def has_push_token(device_id: uuid.UUID) -> bool:
    db.session.close()
    return (
        db.session.scalar(sa.select(PushToken).where(PushToken.device_id == device_id)) is not None
    )


def test_an_iphone_gets_only_the_reference_and_the_kind_of_update(app, apns, caplog):
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        resident = resident_with_report(platform="ios")
        [first] = notify_resident(resident, "report.acknowledged", note=PUBLIC_NOTE)
        [second] = notify_resident(resident, "report.in_progress", note=PUBLIC_NOTE)
        relay_until_settled()

        assert message(first).state == message(second).state == MessageState.DELIVERED
        assert message(first).channel == "apns"
        sent = apns.delivered
        assert [r.token for r in sent] == [resident.token] * 2
        assert [r.headers["apns-id"] for r in sent] == [str(first), str(second)]
        for received in sent:
            assert received.headers[":method"] == "POST"
            assert received.headers["apns-topic"] == apns.topic
            assert received.headers["apns-push-type"] == "alert"
            assert received.headers["apns-priority"] == "10"
            assert received.headers["apns-collapse-id"] == received.data["notification_id"]
        assert sent[1].visible == {
            "title": f"Update on {resident.reference}",
            "body": "Middlesbrough Council is working on your report.",
        }
        assert sent[1].data == {
            "notification_id": sent[1].data["notification_id"],
            "event": "report.in_progress",
            "report_id": str(resident.report_id),
        }
        everything = json.dumps([r.payload for r in sent])
        for personal in (DESCRIPTION, ADDRESS, CONTACT_NAME, PUBLIC_NOTE, "Acacia", "Thistlewood"):
            assert personal not in everything
        # One HTTP/2 connection and one provider token for both, as Apple asks.
        assert apns.connections == 1
        assert len({r.headers["authorization"] for r in sent}) == 1
        # The device token is in the URL: it must not reach a log line.
        assert resident.token not in caplog.text


def test_a_503_then_success_delivers_exactly_once(app, apns):
    apns.script(ApnsAnswer.unavailable(), ApnsAnswer.ok())
    with app.app_context():
        [message_id] = notify_resident(resident_with_report(platform="ios"))
        relay_until_settled()

        assert [r.status for r in apns.received] == [503, 200]
        assert [r.headers["apns-id"] for r in apns.received] == [str(message_id)] * 2
        assert message(message_id).state == MessageState.DELIVERED
        assert attempts(message_id) == [("retry", 503), ("delivered", 200)]


def test_429_retry_after_is_honoured(app, apns):
    apns.script(ApnsAnswer.too_many_requests(retry_after="300"))
    with app.app_context():
        [message_id] = notify_resident(resident_with_report(platform="ios"))
        relay = Relay("test-relay", RelaySettings.from_app())
        relay.run_batch()
        relay.run_batch()

        assert [r.status for r in apns.received] == [429]
        waiting = message(message_id)
        assert waiting.state == MessageState.PENDING
        [attempt] = waiting.attempt_log
        assert waiting.next_attempt_at >= attempt.attempted_at + timedelta(seconds=300)


@pytest.mark.parametrize("answer", [ApnsAnswer.unregistered(), ApnsAnswer.bad_device_token()])
def test_a_dead_token_is_removed_and_never_tried_again(app, apns, answer):
    apns.script(answer)
    with app.app_context():
        resident = resident_with_report(platform="ios")
        [first] = notify_resident(resident, "report.acknowledged")
        [second] = notify_resident(resident, "report.in_progress")
        relay_until_settled()

        assert [r.status for r in apns.received] == [answer.status]
        assert not has_push_token(resident.device_id)
        assert attempts(first) == [("cancelled", answer.status)]
        later = message(second)
        assert later.state == MessageState.CANCELLED and later.attempts == 0


def test_a_revoked_key_dead_letters_at_once(app, apns, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "APNS_KEY_FILE", str(apns.key_file(tmp_path, unknown_key=True)))
    with app.app_context():
        resident = resident_with_report(platform="ios")
        [message_id] = notify_resident(resident)
        relay_until_settled()

        assert [(r.status, r.headers["apns-id"]) for r in apns.received] == [(403, str(message_id))]
        dead = message(message_id)
        assert dead.state == MessageState.DEAD and dead.attempts == 1
        assert "403 InvalidProviderToken" in dead.last_error
        assert f"push message {message_id} dead-lettered" in caplog.text
        assert resident.token not in caplog.text
        assert has_push_token(resident.device_id)


def test_an_iphone_goes_through_fcm_when_apns_is_not_configured(app, apns, monkeypatch, tmp_path):
    from tests.notifications.fake_push import FakeFcm

    with app.app_context():
        resident = resident_with_report(platform="ios")
        [message_id] = notify_resident(resident)
    with FakeFcm() as fcm:
        monkeypatch.setitem(app.config, "APNS_KEY_FILE", None)
        monkeypatch.setitem(
            app.config, "FCM_CREDENTIALS_FILE", str(fcm.service_account_file(tmp_path))
        )
        monkeypatch.setitem(app.config, "FCM_URL", fcm.url)
        with app.app_context():
            relay_until_settled()
            assert message(message_id).channel == "fcm"
        assert [r.token for r in fcm.delivered] == [resident.token]
    assert apns.received == []
