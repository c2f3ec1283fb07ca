"""Residents who gave an email and asked to hear by email get updates by email, with a one-click
unsubscribe link (RFC 8058) that stops them, even those already on their way."""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from copa.contacts.models import Contact
from copa.db import db
from copa.notifications.models import NotifyChannel
from copa.notifications.service import sent_to_resident
from copa.outbox.models import MessageState, OutboxMessage
from copa.relay.service import run_relay
from copa.reports.models import Report
from tests.factories import UserFactory, bearer, load_reference_data, register_device, user_tokens
from tests.outbox.support import use_fast_relay

BASE_URL = "https://copa.example.org"
EMAIL = "sam@example.org"
DESCRIPTION = "Mattresses dumped behind the shops by a man in a red van"
ADDRESS = "Behind 12 Parliament Road"
MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
ONE_CLICK = {
    "data": "List-Unsubscribe=One-Click",
    "content_type": "application/x-www-form-urlencoded",
}


@pytest.fixture
def mail_dir(app, tmp_path, monkeypatch):
    use_fast_relay(monkeypatch, app, MAIL_DIR=str(tmp_path / "mail"), SMTP_URL=None)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", BASE_URL)
    return tmp_path / "mail"


@pytest.fixture
def resident(app, client):
    load_reference_data(app)
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def reviewer(app):
    with app.app_context():
        user = UserFactory(roles=["reviewer"])
    return user_tokens(app, user)[0]


def submit(client, headers, contact: dict | None, **extra) -> dict:
    body = {
        "category": "fly_tipping",
        "description": DESCRIPTION,
        "address_text": ADDRESS,
        "location": MIDDLESBROUGH,
        "answers": {"size": "small", "waste_type": ["household"]},
        **({"contact": contact} if contact is not None else {}),
        **extra,
    }
    response = client.post("/v1/reports", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def consenting(client, headers, email: str = EMAIL) -> dict:
    return submit(client, headers, {"name": "Sam", "email": email, "notify_by_email": True})


def move(client, reviewer, report: dict, to: str, note: str | None = None, **extra) -> None:
    body = {"to": to, **({"public_note": note} if note else {}), **extra}
    response = client.post(
        f"/v1/staff/reports/{report['id']}/transitions", json=body, headers=reviewer
    )
    assert response.status_code == 200, response.get_json()


def relay(app) -> None:
    with app.app_context():
        run_relay(once=True, owner="test-relay")


def email_messages(app, report: dict) -> list[OutboxMessage]:
    """The report's email messages to its resident, oldest first."""
    with app.app_context():
        db.session.close()
        return list(
            db.session.scalars(
                sa.select(OutboxMessage)
                .where(
                    OutboxMessage.channel == NotifyChannel.EMAIL,
                    OutboxMessage.payload["report_id"].as_string() == report["id"],
                )
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def read_eml(mail_dir, message: OutboxMessage) -> tuple[EmailMessage, bytes]:
    raw = (mail_dir / f"{message.id}.eml").read_bytes()
    return message_from_bytes(raw, policy=policy.default), raw


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    return text, html


def unsubscribe_link(mail: EmailMessage) -> str:
    return mail["List-Unsubscribe"].strip("<>")


def contacts(app) -> dict[str, bool]:
    with app.app_context():
        db.session.close()
        return {
            f"{c.device_id}:{c.email}:{c.id}": c.notify_by_email
            for c in db.session.scalars(sa.select(Contact))
        }


def results(app, report: dict) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [
            (r.event, r.channel, r.result)
            for r in sent_to_resident(report_id=uuid.UUID(report["id"]))
            if r.channel == NotifyChannel.EMAIL
        ]


def test_a_consenting_resident_is_emailed_when_the_report_arrives_and_when_it_moves_on(
    app, client, mail_dir, resident, reviewer
):
    report = consenting(client, resident)
    assert report["contact"]["notify_by_email"] is True
    relay(app)

    (received,) = email_messages(app, report)
    assert received.state == MessageState.DELIVERED
    mail, raw = read_eml(mail_dir, received)
    reference = report["reference"]
    assert mail["To"] == EMAIL
    assert mail["From"] == "COPA <no-reply@copa.example>"
    assert mail["Subject"] == f"Report {reference} received"
    assert mail["Message-ID"] == f"<{received.id}@copa.outbox>"
    assert mail.get_content_type() == "multipart/alternative"
    link = unsubscribe_link(mail)
    assert link.startswith(f"{BASE_URL}/v1/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(mail)
    assert "We have your report." in text and f"Reference: {reference}" in text
    assert link in text and f'href="{link}"' in html
    assert reference in html and "Open the COPA app" in text
    # What the resident wrote and where stays in the app, never in an email.
    for private in (DESCRIPTION, ADDRESS, "red van", "Parliament"):
        assert private not in raw.decode("utf-8", "replace")

    move(client, reviewer, report, "in_progress", note="Crews clear it <Tuesday> & Wednesday.")
    relay(app)

    first, update = email_messages(app, report)
    assert update.state == MessageState.DELIVERED
    mail, raw = read_eml(mail_dir, update)
    text, html = parts(mail)
    assert mail["Subject"] == f"Update on {reference}"
    assert "is working on your report" in text
    assert "Crews clear it <Tuesday> & Wednesday." in text
    # The note is escaped in the HTML part: it shows as written, it is not markup.
    assert "Crews clear it &lt;Tuesday&gt; &amp; Wednesday." in html
    assert "<Tuesday>" not in html
    assert unsubscribe_link(mail) == link
    assert DESCRIPTION not in raw.decode("utf-8", "replace")
    assert results(app, report) == [
        ("report.received", NotifyChannel.EMAIL, "delivered"),
        ("report.in_progress", NotifyChannel.EMAIL, "delivered"),
    ]


@pytest.mark.parametrize(
    "contact",
    [
        {"email": EMAIL},  # an email, but no wish to hear by email
        {"email": EMAIL, "notify_by_email": False},
        {"phone": "07700 900123"},
        None,
    ],
    ids=["email-without-consent", "consent-refused", "phone-only", "no-contact"],
)
def test_no_email_without_an_address_and_consent(
    app, client, mail_dir, resident, reviewer, contact
):
    report = submit(client, resident, contact)
    if contact is not None:
        assert report["contact"]["notify_by_email"] is False
    move(client, reviewer, report, "in_progress", note="On it.")
    relay(app)

    assert email_messages(app, report) == []
    assert not mail_dir.exists() or list(mail_dir.glob("*.eml")) == []


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/feedback"])
def test_asking_for_email_without_an_email_address_is_refused(client, resident, path):
    contact = {"phone": "07700 900123", "notify_by_email": True}
    if path == "/v1/reports":
        body = {
            "category": "fly_tipping",
            "description": DESCRIPTION,
            "location": MIDDLESBROUGH,
            "answers": {"size": "small", "waste_type": ["household"]},
            "contact": contact,
        }
    else:
        body = {"kind": "compliment", "text": "The PCSO was very helpful.", "contact": contact}

    response = client.post(path, json=body, headers=resident)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "contact.notify_by_email" in response.get_json()["errors"]


def test_feedback_can_ask_for_email_updates(app, client, mail_dir, resident):
    response = client.post(
        "/v1/feedback",
        json={
            "kind": "compliment",
            "text": "The PCSO was very helpful.",
            "contact": {"email": EMAIL, "notify_by_email": True},
        },
        headers=resident,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["contact"]["notify_by_email"] is True
    relay(app)

    (eml,) = mail_dir.glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["Subject"] == f"Feedback {response.get_json()['reference']} received"
    assert "The PCSO was very helpful." not in eml.read_bytes().decode()


def test_the_unsubscribe_link_stops_later_emails_and_one_already_queued(
    app, client, mail_dir, resident, reviewer
):
    report = consenting(client, resident)
    other_report = consenting(client, resident)  # the same address, another report
    neighbour = bearer(register_device(client)["access_token"])
    neighbours_report = consenting(client, neighbour)  # the same address, another install
    relay(app)
    mail, _ = read_eml(mail_dir, email_messages(app, report)[0])
    link = unsubscribe_link(mail)
    move(client, reviewer, report, "in_progress", note="On it.")  # queued, not sent yet

    response = client.post(link.removeprefix(BASE_URL), **ONE_CLICK)

    assert response.status_code == 200
    assert response.get_json()["unsubscribed"] is True
    shown = client.get(f"/v1/reports/{report['id']}", headers=resident).get_json()
    assert shown["contact"]["notify_by_email"] is False
    shown = client.get(f"/v1/reports/{other_report['id']}", headers=resident).get_json()
    assert shown["contact"]["notify_by_email"] is False
    shown = client.get(f"/v1/reports/{neighbours_report['id']}", headers=neighbour).get_json()
    assert shown["contact"]["notify_by_email"] is True

    # The update queued before the click is not sent, and staff see why.
    sent_before = set(mail_dir.glob("*.eml"))
    relay(app)
    assert set(mail_dir.glob("*.eml")) == sent_before
    received, queued = email_messages(app, report)
    assert queued.state == MessageState.CANCELLED
    assert results(app, report) == [
        ("report.received", NotifyChannel.EMAIL, "delivered"),
        ("report.in_progress", NotifyChannel.EMAIL, "unsubscribed"),
    ]
    # Later updates queue no email at all (the in-app inbox still has them).
    move(client, reviewer, report, "resolved", note="Cleared.", outcome="referred_to_partner")
    move(client, reviewer, other_report, "in_progress")
    assert len(email_messages(app, report)) == 2
    assert len(email_messages(app, other_report)) == 1
    # Clicking again is harmless; an empty body (no form) is accepted too.
    again = client.post(link.removeprefix(BASE_URL))
    assert again.status_code == 200 and again.get_json()["unsubscribed"] is True


def test_a_browser_gets_a_confirmation_page(app, client, mail_dir, resident):
    consenting(client, resident)
    relay(app)
    (eml,) = mail_dir.glob("*.eml")
    link = unsubscribe_link(message_from_bytes(eml.read_bytes(), policy=policy.default))

    response = client.post(
        link.removeprefix(BASE_URL), headers={"Accept": "text/html"}, **ONE_CLICK
    )

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "no more emails" in response.get_data(as_text=True)
    assert list(contacts(app).values()) == [False]


def test_opening_the_link_shows_a_button_and_unsubscribes_nobody(app, client, mail_dir, resident):
    consenting(client, resident)
    relay(app)
    (eml,) = mail_dir.glob("*.eml")
    link = unsubscribe_link(message_from_bytes(eml.read_bytes(), policy=policy.default))

    response = client.get(link.removeprefix(BASE_URL))

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<form method="post">' in page and "Unsubscribe</button>" in page
    assert EMAIL not in page
    assert list(contacts(app).values()) == [True]


def test_email_turned_off_in_the_app_stops_a_queued_email(
    app, client, mail_dir, resident, reviewer
):
    report = consenting(client, resident)
    response = client.patch(
        "/v1/me/notification-preferences", json={"email": False}, headers=resident
    )
    assert response.status_code == 200, response.get_json()
    relay(app)

    assert not mail_dir.exists() or list(mail_dir.glob("*.eml")) == []
    assert results(app, report) == [("report.received", NotifyChannel.EMAIL, "unsubscribed")]


def test_a_tampered_or_made_up_link_is_not_found(app, client, mail_dir, resident):
    consenting(client, resident)
    relay(app)
    (eml,) = mail_dir.glob("*.eml")
    path = unsubscribe_link(message_from_bytes(eml.read_bytes(), policy=policy.default))
    path = path.removeprefix(BASE_URL)
    payload, signature = path.rsplit(".", 1)
    forged = [
        f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        f"/v1/unsubscribe/{uuid.uuid4().hex}",
        "/v1/unsubscribe/not-a-token",
    ]
    for url in forged:
        for method in ("GET", "POST"):
            response = client.open(url, method=method, **(ONE_CLICK if method == "POST" else {}))
            assert response.status_code == 404, (method, url)
            assert response.mimetype == "application/problem+json"
    assert list(contacts(app).values()) == [True]


def test_a_link_to_erased_contact_details_still_answers_that_no_email_will_come(
    app, client, mail_dir, resident
):
    report = consenting(client, resident)
    relay(app)
    (eml,) = mail_dir.glob("*.eml")
    link = unsubscribe_link(message_from_bytes(eml.read_bytes(), policy=policy.default))
    assert client.delete("/v1/me", headers=resident).status_code == 204
    with app.app_context():
        assert db.session.get(Report, uuid.UUID(report["id"])).contact_id is None

    response = client.post(link.removeprefix(BASE_URL), **ONE_CLICK)

    assert response.status_code == 200
    assert contacts(app) == {}


@pytest.mark.parametrize(
    "base_url,sent",
    [
        ("http://127.0.0.1:5000", False),  # the development default
        ("https://localhost", False),
        ("https://[::1]:8443", False),
        ("http://copa.cleveland.example", False),  # a link must not travel in clear
        ("https://copa.cleveland.example", True),
    ],
)
def test_production_sends_no_email_whose_unsubscribe_link_would_not_work(
    app, client, mail_dir, resident, monkeypatch, base_url, sent
):
    monkeypatch.setitem(app.config, "ENV", "production")
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", base_url)
    report = consenting(client, resident)
    relay(app)

    [message] = email_messages(app, report)
    if sent:
        mail, _ = read_eml(mail_dir, message)
        assert unsubscribe_link(mail).startswith(base_url + "/v1/unsubscribe/")
    else:
        assert message.state == "cancelled"
        assert "COPA_PUBLIC_BASE_URL" in message.last_error
        assert not (mail_dir / f"{message.id}.eml").exists()
