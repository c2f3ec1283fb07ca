"""The ``resident_email`` channel: updates by email to residents who gave an address and asked.

``notify()`` queues an email only with the resident's consent; this channel checks again when
the relay sends it, reading the notification and the contact details as they are then, so an
unsubscribe, an erasure or email turned off in the app stops a message already queued (it is
cancelled, and staff see why). The email is the notification's title as its subject, its text
and the public note (the resident asked for this email; a lock screen is not involved), the
reference and a hint to open the app: never the report's description or address. It carries
the RFC 8058 one-click unsubscribe headers and the same link in its text. It leaves through
the same transport as partners' emails (SMTP, or .eml files in development).
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime

from copa.contacts.models import Contact
from copa.notifications.models import Notification, NotifyChannel
from copa.notifications.service import UNSUBSCRIBED, deliverable, preferences_of
from copa.notifications.unsubscribe import public_base_url_usable, unsubscribe_url
from copa.outbox.channels import CannotSend, Settings, register_resident_channel
from copa.outbox.channels.email import EmailRequest
from copa.outbox.models import OutboxMessage

ONE_CLICK = "List-Unsubscribe=One-Click"
OPEN_THE_APP = "Open the COPA app to see the whole update and everything about {reference}."


def prepare(message: OutboxMessage, settings: Settings) -> EmailRequest:
    """The email of a notification to the resident, or CannotSend when it must not go now."""
    notification = deliverable(message)
    contact = _contact_to_write_to(notification)
    if not public_base_url_usable():
        raise CannotSend(
            "COPA_PUBLIC_BASE_URL is not the service's public https address: the email's "
            "unsubscribe link would not work (set it, then retry the delivery)"
        )
    try:
        mail = _mail(message, notification, contact, settings)
    except ValueError as error:  # a header with a line break in it
        raise CannotSend(f"cannot address the email: {error}") from None
    return EmailRequest(str(message.id), contact.email or "", bytes(mail))


def _contact_to_write_to(notification: Notification) -> Contact:
    """The contact details to send to, if the resident still wants email about it."""
    submission = (
        notification.report if notification.report_id is not None else notification.feedback
    )
    if submission is None or submission.device_id != notification.device_id:
        raise CannotSend("the submission is no longer the resident's")
    contact = submission.contact
    if contact is None or not contact.email:
        raise CannotSend("the resident's contact details were erased or purged")
    if not contact.notify_by_email:
        raise CannotSend(f"{UNSUBSCRIBED} from email updates")
    if not preferences_of(notification.device_id).email:
        raise CannotSend(f"{UNSUBSCRIBED}: email is off in the app's notification settings")
    return contact


def _mail(
    message: OutboxMessage, notification: Notification, contact: Contact, settings: Settings
) -> EmailMessage:
    link = unsubscribe_url(contact.id)
    mail = EmailMessage()
    mail["Subject"] = notification.title
    mail["From"] = settings.mail_from
    mail["To"] = contact.email
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = f"<{message.id}@copa.outbox>"
    mail["List-Unsubscribe"] = f"<{link}>"
    mail["List-Unsubscribe-Post"] = ONE_CLICK
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    mail["Content-Language"] = notification.language
    mail.set_content(text_body(notification, link))
    mail.add_alternative(html_body(notification, link), subtype="html")
    return mail


def _parts(notification: Notification) -> tuple[str, str, str]:
    reference = notification.reference or "your submission"
    return (
        reference,
        OPEN_THE_APP.format(reference=reference),
        f"You asked for updates on {reference} by email. To stop all email updates to this "
        "address, unsubscribe:",
    )


def text_body(notification: Notification, link: str) -> str:
    """The plain-text part: the update, the public note, the reference and the unsubscribe
    link."""
    reference, open_the_app, why = _parts(notification)
    lines = [notification.body, ""]
    if notification.note:
        lines += ["A note for you:", notification.note, ""]
    lines += [f"Reference: {reference}", "", open_the_app, "", "--", why, link]
    return "\n".join(lines) + "\n"


def html_body(notification: Notification, link: str) -> str:
    """The HTML part: the same words as the text part, every value escaped."""
    reference, open_the_app, why = _parts(notification)

    def paragraph(text: str) -> str:
        return "<p>" + html.escape(text).replace("\n", "<br>\n") + "</p>"

    parts = [paragraph(notification.body)]
    if notification.note:
        parts += ["<p><strong>A note for you:</strong></p>", paragraph(notification.note)]
    parts += [
        f"<p>Reference: <strong>{html.escape(reference)}</strong></p>",
        paragraph(open_the_app),
        "<hr>",
        f'<p><small>{html.escape(why)} <a href="{html.escape(link, quote=True)}">'
        f"{html.escape(link)}</a></small></p>",
    ]
    title = html.escape(notification.title)
    language = html.escape(notification.language, quote=True)
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n"
    )


register_resident_channel(NotifyChannel.EMAIL, prepare)
