"""Quiet hours hold pushes and emails until they end (Europe/London, across DST changes);
the inbox is immediate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.notifications.models import Notification, NotificationPreferences, PushToken
from copa.notifications.service import notify, quiet_hours_end, sent_to_resident
from copa.outbox.models import OutboxMessage
from copa.relay.service import Relay, RelaySettings
from copa.reports.models import Report
from tests.factories import bearer, load_reference_data, register_device

NIGHT = NotificationPreferences(quiet_hours_start=time(23, 0), quiet_hours_end=time(7, 0))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    "now,expected",
    [
        # GMT (winter): 23:30 local is 23:30 UTC; 07:00 local next day is 07:00 UTC.
        (utc(2027, 1, 14, 23, 30), utc(2027, 1, 15, 7, 0)),
        # BST (summer): 23:30 local is 22:30 UTC; 07:00 local is 06:00 UTC.
        (utc(2027, 7, 14, 22, 30), utc(2027, 7, 15, 6, 0)),
        # Spring forward (28 March 2027): 23:30 GMT on the 27th, quiet hours end at 07:00 BST.
        (utc(2027, 3, 27, 23, 30), utc(2027, 3, 28, 6, 0)),
        # Fall back (31 October 2027): 23:30 BST on the 30th, they end at 07:00 GMT.
        (utc(2027, 10, 30, 22, 30), utc(2027, 10, 31, 7, 0)),
        # After midnight, still inside: 03:00 local ends the same morning.
        (utc(2027, 10, 31, 3, 0), utc(2027, 10, 31, 7, 0)),
        # Outside quiet hours: nothing held.
        (utc(2027, 3, 28, 12, 0), None),
        (utc(2027, 10, 30, 21, 59), None),  # 22:59 BST
    ],
)
def test_quiet_hours_end_in_london_time(now, expected):
    assert quiet_hours_end(NIGHT, now) == expected


def test_quiet_hours_within_a_day_and_an_end_skipped_by_the_spring_change():
    lunch = NotificationPreferences(quiet_hours_start=time(12, 0), quiet_hours_end=time(13, 0))
    assert quiet_hours_end(lunch, utc(2027, 1, 14, 12, 30)) == utc(2027, 1, 14, 13, 0)
    assert quiet_hours_end(lunch, utc(2027, 1, 14, 13, 0)) is None
    # 01:30 does not exist on 28 March 2027 (clocks go 01:00 -> 02:00): held to 02:30 BST.
    early = NotificationPreferences(quiet_hours_start=time(0, 0), quiet_hours_end=time(1, 30))
    assert quiet_hours_end(early, utc(2027, 3, 28, 0, 45)) == utc(2027, 3, 28, 1, 30)


@pytest.mark.parametrize(
    "event_at,held_to",
    [
        (utc(2027, 3, 27, 23, 30), utc(2027, 3, 28, 6, 0)),  # across spring forward
        (utc(2027, 10, 30, 22, 30), utc(2027, 10, 31, 7, 0)),  # across fall back
    ],
)
def test_a_2330_event_is_held_until_quiet_hours_end_but_the_inbox_has_it_at_once(
    app, client, monkeypatch, event_at, held_to
):
    load_reference_data(app)
    monkeypatch.setitem(app.config, "FCM_CREDENTIALS_FILE", "/configured.json")
    resident = bearer(register_device(client)["access_token"])
    client.put(
        "/v1/me/push-token",
        json={"platform": "android", "token": "fcm-token-aaaaaaaaaaaa"},
        headers=resident,
    )
    client.patch(
        "/v1/me/notification-preferences",
        json={"quiet_hours": {"start": "23:00", "end": "07:00"}},
        headers=resident,
    )
    created = client.post(
        "/v1/reports",
        json={
            "category": "graffiti",
            "description": "Tags on the underpass wall",
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"offensive": "no"},
        },
        headers=resident,
    ).get_json()

    with app.app_context():
        report = db.session.get(Report, uuid.UUID(created["id"]))
        notification = notify("report.in_progress", report=report, now=event_at)
        db.session.commit()
        push = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.notification_id == notification.id)
        )
        assert push.channel == "fcm"
        assert push.next_attempt_at == held_to and push.held_until == held_to
        assert db.session.get(Notification, notification.id).created_at == event_at
        results = {
            (record.event, record.channel): record.result
            for record in sent_to_resident(report_id=report.id)
        }
        assert results[("report.in_progress", "inbox")] == "delivered"
        assert results[("report.in_progress", "fcm")] == "held"
        # A relay running now (before the quiet hours end) does not pick it up.
        assert push.id not in Relay("test-relay", RelaySettings.from_app()).claim()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PushToken)) == 1
