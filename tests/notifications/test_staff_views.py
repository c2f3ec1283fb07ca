"""Proof of what was sent: staff see each notification of a report or complaint case, per
channel, with its result; never a push token or an address."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from copa.contacts.models import Contact
from copa.db import db
from copa.outbox.models import MessageState, OutboxMessage
from tests.factories import bearer, load_reference_data, register_device, signed_in

TOKEN = "fcm-token-staff-must-never-see-0123456789"
EMAIL = "complainant.private@example.org"


@pytest.fixture
def world(app, client, monkeypatch):
    load_reference_data(app)
    monkeypatch.setitem(app.config, "FCM_CREDENTIALS_FILE", "/configured.json")
    resident = bearer(register_device(client)["access_token"])
    client.put("/v1/me/push-token", json={"platform": "android", "token": TOKEN}, headers=resident)
    return resident


def test_staff_report_lists_inbox_and_push_with_results(app, client, world):
    report = client.post(
        "/v1/reports",
        json={
            "category": "graffiti",
            "description": "Tags on the underpass wall",
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"offensive": "no"},
        },
        headers=world,
    ).get_json()
    with app.app_context():  # the push went out (as the relay would record it)
        push = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.channel == "fcm"))
        push.state, push.attempts, push.delivered_at = MessageState.DELIVERED, 1, push.created_at
        db.session.commit()
    staff = bearer(signed_in(app, client, "reviewer")["access_token"])

    shown = client.get(f"/v1/staff/reports/{report['id']}", headers=staff)

    assert shown.status_code == 200
    sent = shown.get_json()["notifications"]
    assert [(s["event"], s["channel"], s["result"]) for s in sent] == [
        ("report.received", "inbox", "delivered"),
        ("report.received", "fcm", "delivered"),
    ]
    assert sent[1]["attempts"] == 1 and report["reference"] in sent[1]["title"]
    assert TOKEN not in shown.get_data(as_text=True)


def test_complaint_case_lists_what_the_complainant_was_told_without_their_address(
    app, client, world
):
    feedback = client.post(
        "/v1/feedback",
        json={
            "kind": "dissatisfaction",
            "text": "Nobody came back to me about my stolen bike",
            "contact": {"email": EMAIL},
        },
        headers=world,
    ).get_json()
    with app.app_context():
        contact = db.session.scalar(sa.select(Contact))
        contact.notify_by_email = True
        db.session.commit()
    resolution = bearer(signed_in(app, client, "resolution")["access_token"])
    with app.app_context():
        from copa.feedback.models import ComplaintCase

        case_id = db.session.scalar(
            sa.select(ComplaintCase.id).where(
                ComplaintCase.feedback_id == uuid.UUID(feedback["id"])
            )
        )
    moved = client.post(
        f"/v1/staff/complaints/{case_id}/transitions",
        json={"to": "contacted"},
        headers=resolution,
    )
    assert moved.status_code == 200, moved.get_json()

    case = client.get(f"/v1/staff/complaints/{case_id}", headers=resolution)
    sent = case.get_json()["notifications"]

    assert [(s["event"], s["channel"]) for s in sent] == [
        ("complaint.logged", "inbox"),
        ("complaint.logged", "fcm"),
        ("complaint.contacted", "inbox"),
        ("complaint.contacted", "fcm"),
        ("complaint.contacted", "resident_email"),
    ]
    assert {s["result"] for s in sent if s["channel"] != "inbox"} <= {"pending", "held"}
    body = case.get_data(as_text=True)
    assert TOKEN not in body
    # The staff feedback view lists the same.
    staff_feedback = client.get(f"/v1/staff/feedback/{feedback['id']}", headers=resolution)
    assert len(staff_feedback.get_json()["notifications"]) == 5


def test_console_report_page_shows_what_the_resident_was_told(app, client, world):
    from tests.console.test_console import sign_in

    report = client.post(
        "/v1/reports",
        json={
            "category": "graffiti",
            "description": "Tags on the underpass wall",
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"offensive": "no"},
        },
        headers=world,
    ).get_json()
    sign_in(client, app, "reviewer")

    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)

    assert "What the resident was told" in html
    assert "Report received" in html  # report.received, in words
    assert ">Push (Android)<" in html and ">In-app inbox<" in html  # fcm and inbox
    assert TOKEN not in html
    assert uuid.UUID(report["id"])
