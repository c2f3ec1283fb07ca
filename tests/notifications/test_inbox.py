"""A resident hears what happened: the inbox, push token and notification preferences."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.notifications.models import Notification, NotificationPreferences, PushToken
from copa.outbox.models import OutboxMessage
from copa.reports.models import Report
from copa.routing.models import Referral
from tests.factories import bearer, load_reference_data, register_device, signed_in

MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
DESCRIPTION = "Mattresses dumped behind the shops on Parliament Road by a man in a red van"


@pytest.fixture
def resident(app, client):
    load_reference_data(app)
    return bearer(register_device(client)["access_token"])


def _report(client, headers, **extra) -> dict:
    body = {
        "category": "fly_tipping",
        "description": DESCRIPTION,
        "location": MIDDLESBROUGH,
        "answers": {"size": "small", "waste_type": ["household"]},
        **extra,
    }
    response = client.post("/v1/reports", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _partner_acts(app, client, report_id: str, *steps: dict) -> None:
    """The partner the report went to acknowledges it, then sends each update."""
    from tests.factories import UserFactory, login

    with app.app_context():
        referral = db.session.scalar(
            sa.select(Referral).where(Referral.report_id == uuid.UUID(report_id))
        )
        user = UserFactory(roles=["partner"], partner_id=referral.partner_id)
        db.session.commit()
        referral_id = referral.id
    partner = bearer(login(client, user.email)["access_token"])
    acknowledged = client.post(f"/v1/partner/referrals/{referral_id}/acknowledge", headers=partner)
    assert acknowledged.status_code == 200, acknowledged.get_json()
    for step in steps:
        update = client.post(
            f"/v1/partner/referrals/{referral_id}/updates", json=step, headers=partner
        )
        assert update.status_code == 200, update.get_json()


def test_report_received_is_in_the_inbox_at_once_with_where_it_is_going(client, resident):
    report = _report(client, resident)

    inbox = client.get("/v1/me/notifications", headers=resident).get_json()

    assert inbox["total"] == 1 and inbox["unread"] == 1
    (item,) = inbox["items"]
    assert item["event"] == "report.received"
    assert item["report_id"] == report["id"]
    assert item["reference"] == report["reference"]
    assert report["reference"] in item["title"]
    assert "Middlesbrough Council" in item["body"]
    assert item["read"] is False


def test_every_update_reaches_the_inbox_newest_first_without_the_description(app, client, resident):
    report = _report(client, resident)
    _partner_acts(
        app,
        client,
        report["id"],
        {"status": "in_progress", "public_note": "Crew booked for Thursday."},
        {"status": "resolved", "public_note": "Cleared this morning."},
    )

    items = client.get("/v1/me/notifications", headers=resident).get_json()["items"]

    assert [item["event"] for item in items] == [
        "report.resolved",
        "report.in_progress",
        "report.acknowledged",
        "report.received",
    ]
    resolved = items[0]
    assert resolved["note"] == "Cleared this morning."
    assert resolved["body"] == (
        "Your report has been resolved: dealt with by the organisation responsible."
    )
    for item in items:  # what a lock screen may show never has the resident's words
        assert DESCRIPTION not in item["title"] + item["body"]
        assert "Cleared" not in item["title"] + item["body"]


def test_marking_read_counts_down_and_touches_nobody_elses(app, client, resident):
    _report(client, resident)
    _report(client, resident, description="Fridge left on the verge of Acklam Road")
    other = bearer(register_device(client)["access_token"])
    _report(client, other)
    ids = [
        item["id"]
        for item in client.get("/v1/me/notifications", headers=resident).get_json()["items"]
    ]
    others = client.get("/v1/me/notifications", headers=other).get_json()["items"]

    one = client.post("/v1/me/notifications/read", json={"ids": [ids[0]]}, headers=resident)
    assert one.get_json() == {"marked": 1, "unread": 1}
    # Somebody else's id is ignored, not marked: the other resident's count is unchanged.
    theirs = client.post(
        "/v1/me/notifications/read", json={"ids": [others[0]["id"]]}, headers=resident
    )
    assert theirs.get_json() == {"marked": 0, "unread": 1}
    assert client.get("/v1/me/notifications", headers=other).get_json()["unread"] == 1

    everything = client.post("/v1/me/notifications/read", json={"all": True}, headers=resident)
    assert everything.get_json() == {"marked": 1, "unread": 0}
    again = client.post("/v1/me/notifications/read", json={"all": True}, headers=resident)
    assert again.get_json() == {"marked": 0, "unread": 0}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": ["not-a-uuid"]},
        {"ids": [str(uuid.uuid4())], "all": True},
        {"all": 1},
    ],
)
def test_mark_read_refuses_unclear_requests(client, resident, body):
    response = client.post("/v1/me/notifications/read", json=body, headers=resident)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_inbox_is_paginated(client, resident):
    for n in range(3):
        _report(client, resident, description=f"Rubbish number {n} on the corner")
    page = client.get("/v1/me/notifications?page=2&page_size=2", headers=resident).get_json()
    assert (page["total"], page["page"], len(page["items"]), page["unread"]) == (3, 2, 1, 3)


def test_staff_and_partners_have_no_inbox(app, client):
    staff = bearer(signed_in(app, client, "reviewer")["access_token"])
    assert client.get("/v1/me/notifications", headers=staff).status_code == 403


def test_push_token_is_set_replaced_and_removed_and_never_shown(app, client, resident):
    first = client.put(
        "/v1/me/push-token",
        json={"platform": "android", "token": "fcm-token-aaaaaaaaaaaa", "locale": "en-GB"},
        headers=resident,
    )
    assert first.status_code == 200
    assert "token" not in first.get_json()
    second = client.put(
        "/v1/me/push-token",
        json={"platform": "ios", "token": "a" * 64, "app_version": "2.1.0"},
        headers=resident,
    )
    assert second.get_json()["platform"] == "ios"
    with app.app_context():
        tokens = db.session.scalars(sa.select(PushToken)).all()
        assert [(t.platform, t.token) for t in tokens] == [("ios", "a" * 64)]

    assert client.delete("/v1/me/push-token", headers=resident).status_code == 204
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PushToken)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "windows", "token": "abcdefghijkl"},
        {"platform": "android", "token": "has spaces in it"},
        {"platform": "android", "token": "short"},
        {"platform": "android", "token": "x" * 4097},
        {"platform": "android", "token": "fcm-token-aaaaaaaaaaaa", "locale": "not a locale"},
        {"platform": "android", "token": "fcm-token-aaaaaaaaaaaa", "locale": "en" + "-GB" * 12},
        {"platform": "android", "token": "fcm-token-aaaaaaaaaaaa", "extra": 1},
    ],
)
def test_bad_push_token_is_refused_naming_the_field(client, resident, body):
    response = client.put("/v1/me/push-token", json=body, headers=resident)
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_preferences_default_then_change(client, resident):
    assert client.get("/v1/me/notification-preferences", headers=resident).get_json() == {
        "push": True,
        "email": True,
        "quiet_hours": None,
        "time_zone": "Europe/London",
        "language": "en",
        "languages": ["en"],
    }
    changed = client.patch(
        "/v1/me/notification-preferences",
        json={"push": False, "quiet_hours": {"start": "22:30", "end": "07:00"}},
        headers=resident,
    ).get_json()
    assert changed["push"] is False and changed["email"] is True
    assert changed["quiet_hours"] == {"start": "22:30:00", "end": "07:00:00"}
    cleared = client.patch(
        "/v1/me/notification-preferences", json={"quiet_hours": None}, headers=resident
    ).get_json()
    assert cleared["quiet_hours"] is None and cleared["push"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"push": "yes"},
        {"language": "xx"},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"colour": "blue"},
    ],
)
def test_bad_preferences_are_refused(client, resident, body):
    response = client.patch("/v1/me/notification-preferences", json=body, headers=resident)
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_push_off_means_inbox_only(app, client, resident, monkeypatch):
    monkeypatch.setitem(app.config, "FCM_CREDENTIALS_FILE", "/nonexistent/but-configured.json")
    client.put(
        "/v1/me/push-token",
        json={"platform": "android", "token": "fcm-token-aaaaaaaaaaaa"},
        headers=resident,
    )
    _report(client, resident)
    client.patch("/v1/me/notification-preferences", json={"push": False}, headers=resident)
    _report(client, resident, description="A second pile by the garages")

    with app.app_context():
        pushes = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.channel == "fcm")
        ).all()
    assert len(pushes) == 1  # the first report's, before push was switched off
    assert client.get("/v1/me/notifications", headers=resident).get_json()["total"] == 2


def test_without_push_configured_no_push_is_queued(app, client, resident):
    client.put(
        "/v1/me/push-token",
        json={"platform": "android", "token": "fcm-token-aaaaaaaaaaaa"},
        headers=resident,
    )
    _report(client, resident)
    with app.app_context():
        assert (
            db.session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.notification_id.is_not(None))
            ).all()
            == []
        )
    assert client.get("/v1/me/notifications", headers=resident).get_json()["total"] == 1


def test_erasure_removes_inbox_token_and_preferences_and_nothing_is_sent_after(
    app, client, resident, monkeypatch
):
    monkeypatch.setitem(app.config, "FCM_CREDENTIALS_FILE", "/configured.json")
    client.put(
        "/v1/me/push-token",
        json={"platform": "android", "token": "fcm-token-aaaaaaaaaaaa"},
        headers=resident,
    )
    client.patch("/v1/me/notification-preferences", json={"email": False}, headers=resident)
    report = _report(client, resident)
    assert client.delete("/v1/me", headers=resident).status_code == 204

    with app.app_context():
        for model in (Notification, PushToken, NotificationPreferences):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.notification_id.is_not(None))
            )
            == 0
        )
        # A later update of the report tells nobody: it is no longer linked to the resident.
        from copa.notifications.service import notify

        stored = db.session.get(Report, uuid.UUID(report["id"]))
        assert notify("report.resolved", report=stored) is None


def test_an_empty_preferences_change_is_refused(client, resident):
    for kwargs in ({"json": {}}, {}):
        response = client.patch("/v1/me/notification-preferences", headers=resident, **kwargs)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"]
