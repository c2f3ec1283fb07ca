"""Email deliveries: an .eml file per message in development, SMTP when configured; the
resident's contact details only when they agreed to share them with the partner."""

from __future__ import annotations

import base64
import socketserver
import threading
from email import message_from_bytes, policy

import pytest

from copa.contacts.models import Contact
from copa.db import db, write
from copa.outbox.models import MessageState
from copa.relay.service import run_relay
from copa.routing.models import Channel, Referral, ReferralState
from copa.routing.service import enqueue_referral
from tests.outbox.support import make_partner, make_referrals, messages_of, use_fast_relay

PARTNER_ADDRESS = "referrals@thirteen.example"
PUBLIC_BASE_URL = "https://copa.cleveland.example"


@pytest.fixture
def mail_dir(tmp_path, monkeypatch, app):
    use_fast_relay(
        monkeypatch,
        app,
        MAIL_DIR=str(tmp_path / "mail"),
        SMTP_URL=None,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL + "/",  # a trailing slash is not doubled
    )
    return tmp_path / "mail"


def email_partner():
    return make_partner(channel=Channel.EMAIL, email_address=PARTNER_ADDRESS)


def resident_contact() -> Contact:
    return Contact(name="Ada Lovelace", email="ada@example.org", phone="07700 900123")


def test_an_email_to_the_partner_is_written_as_an_eml_file(app, mail_dir):
    with app.app_context():
        partner = email_partner()
        (referral,) = make_referrals(
            partner,
            answers={"size": "large", "waste_type": ["household", "tyres"]},
            contact=resident_contact(),
            share_contact_with_partner=False,
        )
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)
        referral = db.session.get(Referral, referral.id)
        reference = referral.report.reference

    (eml,) = mail_dir.glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = mail.get_content()
    assert eml.name == f"{message.id}.eml"
    assert mail["To"] == PARTNER_ADDRESS
    assert mail["From"] == "COPA <no-reply@copa.example>"
    assert mail["Subject"] == f"New referral {reference}: Fly-tipping"
    assert mail["Message-ID"] == f"<{message.id}@copa.outbox>"
    assert f"Reference: {reference}" in text
    assert "Fridge and mattress dumped by the bins" in text
    assert "Location: 54.5762, -1.2348" in text
    assert "  What kind of waste? (waste_type): Household, Tyres" in text  # as asked
    # An absolute link: the partner's mail client has no page to resolve a path against.
    assert f"\n{PUBLIC_BASE_URL}/v1/partner/referrals/{referral.id}\n" in text
    # Not shared: nothing of the resident's contact anywhere in the message.
    raw = eml.read_bytes().decode()
    assert "Ada" not in raw and "ada@example.org" not in raw and "7700900123" not in raw
    assert "contact details are not shared" in text
    assert message.state == MessageState.DELIVERED
    assert referral.state == ReferralState.DELIVERED


def test_shared_contact_details_are_in_the_email(app, mail_dir):
    with app.app_context():
        make_referrals(
            email_partner(),
            answers={"size": "small"},
            contact=resident_contact(),
            share_contact_with_partner=True,
        )
        run_relay(once=True, owner="test-relay")

    (eml,) = mail_dir.glob("*.eml")
    text = message_from_bytes(eml.read_bytes(), policy=policy.default).get_content()
    assert "agreed to share their contact details" in text
    assert "  Name: Ada Lovelace" in text
    assert "  Email: ada@example.org" in text
    assert "  Phone: +447700900123" in text  # E.164, as typed or not


def test_a_withdrawal_email_links_to_the_referral_absolutely(app, mail_dir):
    with app.app_context():
        (referral,) = make_referrals(email_partner(), answers={"size": "small"})
        run_relay(once=True, owner="test-relay")
        with write():
            enqueue_referral(db.session.get(Referral, referral.id), "referral.withdrawn")
        run_relay(once=True, owner="test-relay")
        withdrawal = next(
            m for m in messages_of(referral.partner_id) if "withdrawn" in m.event_type
        )

    text = message_from_bytes(
        (mail_dir / f"{withdrawal.id}.eml").read_bytes(), policy=policy.default
    ).get_content()
    assert "has been withdrawn" in text
    assert (
        f"The referral, now withdrawn: {PUBLIC_BASE_URL}/v1/partner/referrals/{referral.id}\n"
        in (text)
    )


def test_a_partner_without_an_email_address_gets_its_message_cancelled(app, mail_dir):
    with app.app_context():
        partner = make_partner(channel=Channel.EMAIL, email_address=None)
        make_referrals(partner, answers={"size": "small"})
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)

    assert message.state == MessageState.CANCELLED
    assert message.last_error == "the partner has no email address"
    assert not mail_dir.exists() or list(mail_dir.iterdir()) == []


class SMTPSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) on 127.0.0.1."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.mail: list[dict] = []
        sink = self

        class Session(socketserver.StreamRequestHandler):
            timeout = 5

            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                envelope: dict = {"rcpt": []}
                self.reply("220 sink ESMTP")
                while line := self.rfile.readline(1000):
                    verb = line.decode().strip()
                    upper = verb.upper()
                    if upper.startswith("EHLO"):
                        self.reply("250-sink")
                        self.reply("250 AUTH PLAIN")
                    elif upper.startswith("AUTH PLAIN"):
                        envelope["auth"] = base64.b64decode(verb.split()[2]).split(b"\0")[1:]
                        self.reply("235 ok")
                    elif upper.startswith("MAIL FROM:"):
                        envelope["from"] = verb[10:].strip().split()[0]
                        self.reply("250 ok")
                    elif upper.startswith("RCPT TO:"):
                        envelope["rcpt"].append(verb[8:].strip())
                        self.reply("250 ok")
                    elif upper == "DATA":
                        self.reply("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline(100_000)) not in (b".\r\n", b""):
                            data += chunk
                        envelope["data"] = data
                        sink.mail.append(envelope)
                        envelope = {"rcpt": []}
                        self.reply("250 queued")
                    elif upper == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        super().__init__(("127.0.0.1", 0), Session)

    def __enter__(self) -> SMTPSink:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


def test_with_smtp_configured_the_email_goes_through_the_server(app, monkeypatch, tmp_path):
    with SMTPSink() as smtp, app.app_context():
        port = smtp.server_address[1]
        use_fast_relay(
            monkeypatch,
            app,
            SMTP_URL=f"smtp://relay%40copa:pa%3Ass@127.0.0.1:{port}",
            MAIL_DIR=str(tmp_path / "unused"),
        )
        partner = email_partner()
        make_referrals(partner, answers={"size": "small"})
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)

    (mail,) = smtp.mail
    assert mail["auth"] == [b"relay@copa", b"pa:ss"]
    assert mail["from"] == "<no-reply@copa.example>"
    assert mail["rcpt"] == [f"<{PARTNER_ADDRESS}>"]
    assert message_from_bytes(mail["data"], policy=policy.default)["To"] == PARTNER_ADDRESS
    assert message.state == MessageState.DELIVERED
    assert not (tmp_path / "unused").exists()
