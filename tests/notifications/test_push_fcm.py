"""Pushes to residents' phones through Firebase Cloud Messaging (HTTP v1), against a fake FCM
and its OAuth2 token endpoint on 127.0.0.1, delivered by the outbox relay."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from copa import create_app
from copa.auth.models import Device
from copa.db import db, utcnow, write
from copa.notifications.models import NotificationPreferences, PushToken
from copa.outbox.channels import fcm as fcm_channel
from copa.outbox.channels import push_transport
from copa.outbox.models import DeliveryAttempt, MessageState, OutboxMessage
from copa.relay.service import Relay, RelaySettings
from tests.conftest import TEST_SETTINGS
from tests.factories import scratch_database
from tests.notifications.fake_push import (
    ADDRESS,
    CONTACT_NAME,
    DESCRIPTION,
    PUBLIC_NOTE,
    FakeFcm,
    FcmAnswer,
    fcm_token,
    notify_resident,
    resident_with_report,
)
from tests.outbox.support import relay_until_settled, use_fast_relay
from tests.outbox.test_relay_processes import (
    RelayProcess,
    relay_environment,
    state_counts,
    wait_for,
)


@pytest.fixture
def fcm(app, monkeypatch, tmp_path):
    """A fake FCM the app is configured to push through, with fast relay settings."""
    use_fast_relay(monkeypatch, app)
    with FakeFcm() as fake:
        monkeypatch.setitem(
            app.config, "FCM_CREDENTIALS_FILE", str(fake.service_account_file(tmp_path))
        )
        monkeypatch.setitem(app.config, "FCM_URL", fake.url)
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


def test_a_push_shows_only_the_reference_and_the_kind_of_update(app, fcm, caplog):
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        resident = resident_with_report()
        [message_id] = notify_resident(resident, "report.in_progress", note=PUBLIC_NOTE)
        relay_until_settled()

        assert message(message_id).state == MessageState.DELIVERED
        [sent] = fcm.received
        assert sent.project_id == "copa-test"
        assert sent.token == resident.token
        assert sent.visible == {
            "title": f"Update on {resident.reference}",
            "body": "Middlesbrough Council is working on your report.",
        }
        notification_id = sent.data["notification_id"]
        assert sent.data == {
            "notification_id": notification_id,
            "event": "report.in_progress",
            "report_id": str(resident.report_id),
        }
        # A repeated delivery replaces the first on the phone instead of showing twice.
        assert sent.message["android"]["notification"]["tag"] == notification_id
        assert sent.message["apns"]["headers"]["apns-collapse-id"] == notification_id
        everything = json.dumps(sent.message)
        for personal in (DESCRIPTION, ADDRESS, CONTACT_NAME, PUBLIC_NOTE, "Acacia", "Thistlewood"):
            assert personal not in everything
        # The logs name the message, never the token or what the phone shows.
        assert resident.token not in caplog.text
        assert "working on your report" not in caplog.text


def test_a_503_then_success_delivers_exactly_once(app, fcm):
    fcm.script(FcmAnswer.unavailable(), FcmAnswer.ok())
    with app.app_context():
        [message_id] = notify_resident(resident_with_report())
        relay_until_settled()

        assert [r.status for r in fcm.received] == [503, 200]
        assert len(fcm.delivered) == 1
        delivered = message(message_id)
        assert delivered.state == MessageState.DELIVERED and delivered.attempts == 2
        assert attempts(message_id) == [("retry", 503), ("delivered", 200)]


@pytest.mark.parametrize(
    "answer", [FcmAnswer.quota_exceeded(retry_after="120"), FcmAnswer.unavailable("120")]
)
def test_retry_after_is_honoured(app, fcm, answer):
    fcm.script(answer)
    with app.app_context():
        [message_id] = notify_resident(resident_with_report())
        relay = Relay("test-relay", RelaySettings.from_app())
        relay.run_batch()
        relay.run_batch()  # the millisecond schedule would have it due again by now

        assert [r.status for r in fcm.received] == [answer.status]
        waiting = message(message_id)
        assert waiting.state == MessageState.PENDING
        [attempt] = waiting.attempt_log
        assert waiting.next_attempt_at >= attempt.attempted_at + timedelta(seconds=120)
        assert attempt.outcome == "retry" and attempt.status_code == answer.status


@pytest.mark.parametrize("answer", [FcmAnswer.unregistered(), FcmAnswer.invalid_token()])
def test_a_dead_token_is_removed_and_never_tried_again(app, fcm, answer):
    fcm.script(answer)
    with app.app_context():
        resident = resident_with_report()
        [first] = notify_resident(resident, "report.acknowledged")
        [second] = notify_resident(resident, "report.in_progress")
        relay_until_settled()

        assert [r.status for r in fcm.received] == [answer.status]  # the second never went
        assert not has_push_token(resident.device_id)
        assert message(first).state == MessageState.CANCELLED
        assert attempts(first) == [("cancelled", answer.status)]
        later = message(second)
        assert later.state == MessageState.CANCELLED and later.attempts == 0
        assert "no push token" in later.last_error
        # With no token, the next update makes no push at all (the inbox still has it).
        assert notify_resident(resident, "report.resolved") == []


def test_a_token_registered_while_the_push_was_under_way_is_kept(app, fcm, monkeypatch):
    fcm.script(FcmAnswer.unregistered())
    fresh = fcm_token()
    with app.app_context():
        resident = resident_with_report()
        [message_id] = notify_resident(resident)
        send = fcm_channel.FcmRequest.send

        def send_while_the_app_registers_a_new_token(request, settings):
            outcome = send(request, settings)
            # the app's PUT /v1/me/push-token lands before the answer is recorded
            with write():
                db.session.execute(
                    sa.update(PushToken)
                    .where(PushToken.device_id == resident.device_id)
                    .values(token=fresh, updated_at=utcnow())
                )
            return outcome

        monkeypatch.setattr(
            fcm_channel.FcmRequest, "send", send_while_the_app_registers_a_new_token
        )
        relay_until_settled()

        assert message(message_id).state == MessageState.CANCELLED
        kept = db.session.scalar(
            sa.select(PushToken).where(PushToken.device_id == resident.device_id)
        )
        assert kept is not None and kept.token == fresh


def test_refused_credentials_dead_letter_at_once(app, fcm, tmp_path, monkeypatch, caplog):
    revoked = fcm.service_account_file(tmp_path, unknown_key=True)
    monkeypatch.setitem(app.config, "FCM_CREDENTIALS_FILE", str(revoked))
    with app.app_context():
        resident = resident_with_report()
        [message_id] = notify_resident(resident)
        relay_until_settled()

        assert fcm.token_requests == [400]  # invalid_grant: the signature is not the account's
        assert fcm.received == []
        dead = message(message_id)
        assert dead.state == MessageState.DEAD and dead.attempts == 1
        assert "refused" in dead.last_error
        assert f"push message {message_id} dead-lettered" in caplog.text
        assert "token endpoint refused" in caplog.text
        assert resident.token not in caplog.text
        assert has_push_token(resident.device_id)  # our fault, not the phone's


def test_fcm_refusing_the_access_token_dead_letters_at_once(app, fcm, caplog):
    with app.app_context():
        resident = resident_with_report()
        [first] = notify_resident(resident, "report.acknowledged")
        relay_until_settled()
        fcm.access_tokens.clear()  # the service account's key was revoked at Google
        [second] = notify_resident(resident, "report.in_progress")
        relay_until_settled()

        assert [r.status for r in fcm.received] == [200, 401]
        assert message(first).state == MessageState.DELIVERED
        dead = message(second)
        assert dead.state == MessageState.DEAD and dead.attempts == 1
        assert attempts(second) == [("dead", 401)]
        assert "FCM refused our credentials" in caplog.text


def test_one_access_token_serves_many_pushes(app, fcm):
    with app.app_context():
        for _ in range(3):
            notify_resident(resident_with_report())
        relay_until_settled()

    assert len(fcm.delivered) == 3
    assert fcm.token_requests == [200]
    assert len({r.authorization for r in fcm.received}) == 1


@pytest.mark.parametrize("change", ["push_off", "erased", "transferred"])
def test_no_push_once_the_resident_turned_it_off_or_left(app, fcm, change):
    with app.app_context():
        resident = resident_with_report()
        [message_id] = notify_resident(resident)
        with write():
            device = db.session.get(Device, resident.device_id)
            if change == "push_off":
                db.session.add(
                    NotificationPreferences(device_id=device.id, push=False, email=False)
                )
            elif change == "erased":
                device.erased_at = utcnow()
            else:
                device.transferred_at = utcnow()
        relay_until_settled()

        assert fcm.received == []
        cancelled = message(message_id)
        assert cancelled.state == MessageState.CANCELLED and cancelled.attempts == 0


# --- real relay processes ------------------------------------------------------------------


@pytest.fixture
def push_app(tmp_path):
    """An application on a database of its own, migrated (other processes read it)."""
    with scratch_database(tmp_path, "push") as url:
        app = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
        with app.app_context():
            upgrade()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.slow
@pytest.mark.real_database
def test_a_relay_killed_mid_batch_loses_no_push(push_app, tmp_path):
    total = 40
    lock = threading.Lock()
    received: Counter = Counter()
    hold, held, release = threading.Event(), threading.Event(), threading.Event()
    held_ids: list[str] = []

    with FakeFcm() as fake:
        credentials = fake.service_account_file(tmp_path)

        def on_send(request) -> None:
            notification_id = request.data.get("notification_id", "")
            with lock:
                received[notification_id] += 1
                holding = hold.is_set()
                if holding:
                    hold.clear()
                    held_ids.append(notification_id)
                    held.set()
            if holding:
                release.wait(timeout=10)

        fake.on_send = on_send
        push_app.config.update(FCM_CREDENTIALS_FILE=str(credentials), FCM_URL=fake.url)
        with push_app.app_context():
            for _ in range(total):
                notify_resident(resident_with_report())
            db.session.remove()
        env = relay_environment(
            push_app.config["DATABASE_URL"], FCM_CREDENTIALS_FILE=str(credentials), FCM_URL=fake.url
        )
        relays: list[RelayProcess] = []
        try:
            for round_ in range(2):
                relay = RelayProcess(env, tmp_path, f"push-relay-{round_}")
                relays.append(relay)
                target = (round_ + 1) * 10
                wait_for(lambda t=target: sum(received.values()) >= t, 60, "pushes")
                held.clear()
                hold.set()
                assert held.wait(timeout=30), "no push came to hold"
                relay.kill()  # SIGKILL while FCM has a push in hand, mid-batch
                release.set()
                release = threading.Event()
            assert state_counts(push_app)[MessageState.DELIVERED] < total

            survivor = RelayProcess(env, tmp_path, "push-relay-survivor")
            relays.append(survivor)
            wait_for(
                lambda: state_counts(push_app)[MessageState.DELIVERED] == total,
                60,
                "every push delivered",
            )
            survivor.stop()
        finally:
            release.set()
            for relay in relays:
                relay.ensure_dead()

        assert state_counts(push_app) == Counter({MessageState.DELIVERED: total})
        assert len(received) == total  # every notification reached FCM
        assert len(held_ids) == 2 and all(received[n] >= 2 for n in held_ids)
        # The repeats carried the same collapse key: the phone shows each notification once.
        tags = Counter(r.message["android"]["notification"]["tag"] for r in fake.delivered)
        assert set(tags) == set(received)
    # Each relay process fetched its own access token once; none was refused.
    assert fake.token_requests == [200] * len(relays)
