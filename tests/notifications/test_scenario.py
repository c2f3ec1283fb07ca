"""The whole loop, as a resident lives it: register, set a push token, report, the partner
acknowledges and resolves it, staff close it. The fake FCM receives exactly the expected pushes
in order with nothing personal on the lock screen, the inbox lists the same, the consenting
resident gets the emails, and the unsubscribe link in one of them stops the rest."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.metrics.reconcile import reconcile
from copa.outbox.channels import push_transport
from copa.routing.models import Referral
from tests.factories import (
    UserFactory,
    bearer,
    load_reference_data,
    login,
    register_device,
    signed_in,
)
from tests.notifications.fake_push import FakeFcm
from tests.outbox.support import relay_until_settled, use_fast_relay

DESCRIPTION = "Mattresses dumped behind 14 Acacia Avenue by a man in a red van"
ADDRESS = "14 Acacia Avenue, Linthorpe"
NAME = "Sam Thistlewood"
EMAIL = "sam.thistlewood@example.org"
PROGRESS_NOTE = "Crew booked for Thursday at the back of number 14."
RESOLVED_NOTE = "Cleared this morning; we will watch the lane."


@pytest.fixture
def fcm(app, monkeypatch, tmp_path):
    use_fast_relay(monkeypatch, app)
    monkeypatch.setitem(app.config, "MAIL_DIR", str(tmp_path / "mail"))
    with FakeFcm() as fake:
        monkeypatch.setitem(
            app.config, "FCM_CREDENTIALS_FILE", str(fake.service_account_file(tmp_path))
        )
        monkeypatch.setitem(app.config, "FCM_URL", fake.url)
        yield fake
    push_transport.close_clients()


def relay(app) -> None:
    with app.app_context():
        relay_until_settled()


def emails(directory: Path) -> list[email.message.EmailMessage]:
    if not directory.exists():
        return []
    found = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in directory.glob("*.eml")
    ]
    return sorted(found, key=lambda mail: mail["Date"].datetime)


def test_a_resident_hears_every_step_by_push_inbox_and_email_until_they_unsubscribe(
    app, client, fcm, tmp_path
):
    load_reference_data(app)
    device = register_device(client)
    resident = bearer(device["access_token"])
    token = "fcm-registration-token-of-sams-phone-0123456789"
    assert (
        client.put(
            "/v1/me/push-token",
            json={"platform": "android", "token": token, "locale": "en-GB"},
            headers=resident,
        ).status_code
        == 200
    )
    report = client.post(
        "/v1/reports",
        json={
            "category": "fly_tipping",
            "description": DESCRIPTION,
            "address_text": ADDRESS,
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"size": "small", "waste_type": ["household"]},
            "contact": {"name": NAME, "email": EMAIL, "notify_by_email": True},
        },
        headers=resident,
    ).get_json()
    assert report["destination"]["name"] == "Middlesbrough Council"
    relay(app)

    with app.app_context():
        referral = db.session.scalar(
            sa.select(Referral).where(Referral.report_id == uuid.UUID(report["id"]))
        )
        partner_user = UserFactory(roles=["partner"], partner_id=referral.partner_id)
        db.session.commit()
        referral_id = referral.id
    partner = bearer(login(client, partner_user.email)["access_token"])
    assert (
        client.post(f"/v1/partner/referrals/{referral_id}/acknowledge", headers=partner).status_code
        == 200
    )
    relay(app)
    assert (
        client.post(
            f"/v1/partner/referrals/{referral_id}/updates",
            json={"status": "in_progress", "public_note": PROGRESS_NOTE},
            headers=partner,
        ).status_code
        == 200
    )
    relay(app)
    assert (
        client.post(
            f"/v1/partner/referrals/{referral_id}/updates",
            json={"status": "resolved", "public_note": RESOLVED_NOTE},
            headers=partner,
        ).status_code
        == 200
    )
    relay(app)

    # Four emails so far, each with the one-click unsubscribe of RFC 8058.
    mail_dir = tmp_path / "mail"
    sent = emails(mail_dir)
    assert sorted(mail["Subject"] for mail in sent) == [
        f"Report {report['reference']} received",
        *[f"Update on {report['reference']}"] * 3,
    ]
    for mail in sent:
        assert mail["To"] == EMAIL
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = mail.get_body(("plain",)).get_content()
        assert DESCRIPTION not in text and ADDRESS not in text
    link = re.search(r"<([^>]+)>", sent[0]["List-Unsubscribe"]).group(1)
    path = "/" + link.split("/", 3)[3]
    unsubscribed = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert unsubscribed.status_code == 200

    reviewer = bearer(signed_in(app, client, "reviewer")["access_token"])
    staff_view = client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer).get_json()
    assert staff_view["outcome"] == "resolved_by_partner"  # recorded without a staff decision
    closed = client.post(
        f"/v1/staff/reports/{report['id']}/transitions",
        json={
            "to": "closed",
            "outcome": "no_further_action",
            "public_note": "Thank you for reporting it.",
        },
        headers=reviewer,
    )
    assert closed.status_code == 200, closed.get_json()
    relay(app)

    # The fake FCM received exactly these pushes, in this order, and nothing personal.
    reference = report["reference"]
    assert [(push.data["event"], push.token) for push in fcm.received] == [
        ("report.received", token),
        ("report.acknowledged", token),
        ("report.in_progress", token),
        ("report.resolved", token),
        ("report.closed", token),
    ]
    for push in fcm.received:
        assert reference in push.visible["title"]
        shown = push.visible["title"] + push.visible["body"] + str(push.data)
        for personal in (DESCRIPTION, ADDRESS, NAME, EMAIL, PROGRESS_NOTE, RESOLVED_NOTE):
            assert personal not in shown
        assert push.data["report_id"] == report["id"]
    # The inbox lists the same, newest first, with the partner's notes for the app to show.
    inbox = client.get("/v1/me/notifications", headers=resident).get_json()
    assert [item["event"] for item in inbox["items"]] == [
        "report.closed",
        "report.resolved",
        "report.in_progress",
        "report.acknowledged",
        "report.received",
    ]
    assert [item["id"] for item in reversed(inbox["items"])] == [
        push.data["notification_id"] for push in fcm.received
    ]
    assert inbox["items"][1]["note"] == RESOLVED_NOTE
    assert fcm.received[3].visible["body"] == (
        "Your report has been resolved: dealt with by the organisation responsible."
    )
    # The unsubscribe stopped the email of the closing; the push and inbox still came.
    assert len(emails(mail_dir)) == 4

    # Staff see each of them with its result.
    shown = client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer).get_json()
    results = [(s["event"], s["channel"], s["result"]) for s in shown["notifications"]]
    assert ("report.closed", "fcm", "delivered") in results
    assert ("report.resolved", "resident_email", "delivered") in results
    assert not any(
        channel == "resident_email" and event == "report.closed" for event, channel, _ in results
    )

    # Every decided report has an outcome, and the rollups agree with the rows.
    analyst = bearer(signed_in(app, client, "analyst")["access_token"])
    issues = client.get("/v1/metrics/issues?level=ward", headers=analyst).get_json()
    outcomes = {
        outcome
        for area in issues["by_area"]
        for outcome, count in area["outcomes"].items()
        if count
    }
    assert "none_recorded" not in outcomes
    with app.app_context():
        assert reconcile().mismatches == []
