"""The .eml files of the development mail sink (``MAIL_DIR``, used when ``SMTP_URL`` is unset):
deleting those that name someone whose contact details are erased or purged, and those older
than the contact retention.

The sink stands in for a mail server, so it must forget as the database does. A file is matched
on the decoded message (headers and every text part, whatever its transfer encoding) as well as
on its raw bytes, case-insensitively. Files being written (``.*.tmp``) are included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from email import message_from_bytes, policy
from email.errors import MessageError
from pathlib import Path

from flask import current_app

from copa.settings import settings

log = logging.getLogger(__name__)


def mail_dir() -> Path:
    """Where the sink writes (``COPA_MAIL_DIR``, default instance/mail)."""
    return Path(settings().mail_dir or Path(current_app.instance_path) / "mail")


def _sink_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [
        path
        for path in directory.iterdir()
        if path.is_file() and (path.suffix == ".eml" or path.name.endswith(".tmp"))
    ]


def _readable_text(raw: bytes) -> str:
    """The message as a reader sees it (decoded headers and text parts) and as stored."""
    texts = [raw.decode("latin-1")]
    with suppress(MessageError, LookupError, ValueError, TypeError):
        message = message_from_bytes(raw, policy=policy.default)
        texts += [str(value) for value in message.values()]
        for part in message.walk():
            if part.get_content_maintype() == "text":
                texts.append(part.get_content())
    return "\n".join(texts).casefold()


def forget_mail_mentioning(values: Iterable[str | None]) -> int:
    """Delete the sink's files that mention any of ``values`` (email addresses, phone numbers);
    returns how many."""
    needles = {value.casefold() for value in values if value}
    if not needles:
        return 0
    deleted = 0
    for path in _sink_files(mail_dir()):
        try:
            text = _readable_text(path.read_bytes())
        except FileNotFoundError:
            continue
        if any(needle in text for needle in needles):
            deleted += _delete(path)
    return deleted


def purge_old_mail(days: int) -> int:
    """Delete the sink's files older than ``days``; returns how many."""
    cutoff = time.time() - days * 86400
    deleted = 0
    for path in _sink_files(mail_dir()):
        with suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                deleted += _delete(path)
    return deleted


def _delete(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError:
        log.warning("could not delete mail file %s", path, exc_info=True)
        return 0
    return 1
