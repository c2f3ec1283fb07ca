"""Email channel: a plain-text message with the referral to the partner's address, sent by the
outbox's email transport (``send_email``: SMTP, or an .eml file in development).

The Message-ID is derived from the outbox message id, so a receiver can drop a repeat.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from copa.outbox.channels import CannotSend, Settings
from copa.outbox.channels.email import EmailRequest
from copa.outbox.models import OutboxMessage
from copa.reports.models import Report
from copa.routing.models import Partner, Referral

SUBJECTS = {"referral.created": "New referral", "referral.withdrawn": "Referral withdrawn"}


def prepare(
    message: OutboxMessage,
    referral: Referral,
    report: Report,
    partner: Partner,
    settings: Settings,
) -> EmailRequest:
    if not partner.email_address:
        raise CannotSend("the partner has no email address")
    mail = EmailMessage()
    subject = SUBJECTS.get(message.event_type, message.event_type)
    try:
        mail["Subject"] = f"{subject} {report.reference}: {report.category.name}"
        mail["From"] = settings.mail_from
        mail["To"] = partner.email_address
    except ValueError as error:  # a header with a line break in it
        raise CannotSend(f"cannot address the email: {error}") from None
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = f"<{message.id}@copa.outbox>"
    if message.event_type == "referral.withdrawn":
        mail.set_content(withdrawal_body(referral, report, partner, settings.public_base_url))
    else:
        mail.set_content(body(referral, report, partner, settings.public_base_url))
    return EmailRequest(str(message.id), partner.email_address, bytes(mail))


def referral_url(referral: Referral, base_url: str) -> str:
    """The referral in the partner API, absolute (``COPA_PUBLIC_BASE_URL``): a link in an email
    has no page to be relative to."""
    return f"{base_url.rstrip('/')}/v1/partner/referrals/{referral.id}"


def body(referral: Referral, report: Report, partner: Partner, base_url: str) -> str:
    """The text of the email; the resident's contact only when they agreed to share it."""
    lines = [
        f"A report has been referred to {partner.name} through COPA.",
        "",
        f"Reference: {report.reference}",
        f"Category: {report.category.name}",
        f"Received: {report.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if report.lat is not None:
        lines.append(f"Location: {report.lat}, {report.lon}")
    area = report.area
    if area:
        names = [a.name for a in (area["ward"], area["local_authority"]) if a is not None]
        lines.append("Area: " + ", ".join(names))
    if report.address_text:
        lines.append(f"Address: {report.address_text}")
    if report.happening_now:
        lines.append("Happening now: yes")
    lines += ["", "Description:", report.description, ""]
    if report.answers:
        lines.append("Answers:")
        # As the resident was asked: the question's text and the choices' labels of then.
        for answered in report.answered_questions:
            value = answered["answer"]
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            if answered["labels"]:
                shown = ", ".join(answered["labels"])
            lines.append(f"  {answered['question']} ({answered['code']}): {shown}")
        lines.append("")
    contact = report.contact if report.share_contact_with_partner else None
    if contact is not None:
        lines.append("The resident agreed to share their contact details with you:")
        for label, value in (
            ("Name", contact.name),
            ("Email", contact.email),
            ("Phone", contact.phone),
        ):
            if value:
                lines.append(f"  {label}: {value}")
    else:
        lines.append("The resident's contact details are not shared.")
    lines += [
        "",
        "Acknowledge it and send updates through the partner API:",
        referral_url(referral, base_url),
    ]
    return "\n".join(lines) + "\n"


def withdrawal_body(referral: Referral, report: Report, partner: Partner, base_url: str) -> str:
    """The text telling a partner a referral is withdrawn: what it was, and that it may stop.

    Nothing of the report's content: the partner no longer needs it.
    """
    return (
        "\n".join(
            [
                f"A report referred to {partner.name} through COPA has been withdrawn by the",
                "Office of the Police and Crime Commissioner: it has been sent elsewhere or",
                "closed. You need not act on it any further.",
                "",
                f"Reference: {report.reference}",
                f"Category: {report.category.name}",
                f"Referred: {referral.sent_at:%Y-%m-%d %H:%M} UTC",
                "",
                f"The referral, now withdrawn: {referral_url(referral, base_url)}",
            ]
        )
        + "\n"
    )
