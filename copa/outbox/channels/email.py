"""Email transport: ``send_email`` sends every email the service sends, a referral to a
partner's address (copa/relay/email.py) and a notification to a resident
(copa/notifications/email.py).

With ``SMTP_URL`` set it goes through that server (``smtp://user:pass@host:587`` upgrades with
STARTTLS when the server offers it, ``smtps://host:465`` is TLS from the start); without it,
development and tests get one ``.eml`` file per message under ``MAIL_DIR`` (instance/mail).
The Message-ID is derived from the outbox message id, so a receiver can drop a repeat; the file
sink is named after it, so a repeat overwrites instead of piling up.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from copa.outbox.channels import Outcome, Result, Settings


@dataclass(frozen=True)
class EmailRequest:
    """One email made ready to send, to a partner or to a resident (notifications/email.py)."""

    message_id: str
    recipient: str
    content: bytes  # the whole RFC 5322 message

    def send(self, settings: Settings) -> Outcome:
        return send_email(settings, self.message_id, self.recipient, self.content)


def send_email(settings: Settings, message_id: str, recipient: str, content: bytes) -> Outcome:
    """The one transport of every email: SMTP when ``SMTP_URL`` is set, else an .eml file in
    ``MAIL_DIR`` named after the outbox message id. Never raises for what the server does."""
    try:
        if settings.smtp_url:
            _send_smtp(settings, recipient, content)
        else:
            _write_eml(settings.mail_dir, message_id, content)
    except (OSError, smtplib.SMTPException, ValueError) as error:
        return Outcome(Result.FAILED, error=f"{type(error).__name__}: {error}"[:500])
    return Outcome(Result.DELIVERED)


def _write_eml(directory: Path, message_id: str, content: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, directory / f"{message_id}.eml")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _send_smtp(settings: Settings, recipient: str, content: bytes) -> None:
    url = urlsplit(settings.smtp_url or "")
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ValueError("SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            url.hostname, url.port or 465, timeout=settings.timeout, context=context
        )
    else:
        server = smtplib.SMTP(url.hostname, url.port or 25, timeout=settings.timeout)
    with server:
        server.ehlo()
        if url.scheme == "smtp" and server.has_extn("starttls"):
            server.starttls(context=context)
            server.ehlo()
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.sendmail(parseaddr(settings.mail_from)[1], [recipient], content)
