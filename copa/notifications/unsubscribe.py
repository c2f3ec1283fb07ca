"""One-click unsubscribe from email updates (RFC 8058).

Each email to a resident carries a link with a token that names the contact details it was
sent to, signed with the app's ``SECRET_KEY`` (and a salt of its own, so no other signed value
of the service can stand in for it). The token never expires: a link in an old email must still
work. Using it turns email updates off for that contact and for every other contact of the
same app install with the same address, so one click stops all of them.
"""

from __future__ import annotations

import ipaddress
import uuid
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from copa.contacts.models import Contact
from copa.db import db, write
from copa.settings import settings
from copa.web.problems import NotFound

SALT = "copa.notifications.unsubscribe"
PATH = "/v1/unsubscribe/"


def _serializer() -> URLSafeSerializer:
    # The newest key signs; links signed before a key rotation still verify with the old one
    # (SECRET_KEY_FALLBACKS: Flask's own setting, not a COPA_ one).
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    keys = [*fallbacks, settings().secret_key]
    return URLSafeSerializer(keys, salt=SALT)


def token_for(contact_id: uuid.UUID) -> str:
    """The signed unsubscribe token of a set of contact details."""
    return _serializer().dumps(contact_id.hex)


def public_base_url_usable() -> bool:
    """Whether links built from COPA_PUBLIC_BASE_URL reach the service: in production an
    https address that is not this machine's loopback (the development default)."""
    if settings().env != "production":
        return True
    url = urlsplit(settings().public_base_url)
    host = (url.hostname or "").lower()
    return url.scheme == "https" and bool(host) and host != "localhost" and not _loopback(host)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unsubscribe_url(contact_id: uuid.UUID) -> str:
    """The public link that unsubscribes these contact details (``COPA_PUBLIC_BASE_URL``)."""
    base = settings().public_base_url.rstrip("/")
    return base + PATH + token_for(contact_id)


def contact_id_of(token: str) -> uuid.UUID:
    """The contact id a token was signed for; a 404 problem for a tampered or made-up one."""
    try:
        return uuid.UUID(hex=_serializer().loads(token))
    except (BadData, TypeError, ValueError):
        raise NotFound("This unsubscribe link is not valid.") from None


def unsubscribe(token: str) -> None:
    """POST /v1/unsubscribe/{token}: no more emails to these contact details, nor to the same
    address given with the install's other submissions. Repeating it changes nothing more.

    Contact details erased or purged since the email was sent have nothing left to switch
    off: that is a success too (no email can reach the resident through them).
    """
    contact_id = contact_id_of(token)
    with write():
        contact = db.session.get(Contact, contact_id)
        if contact is not None:
            same = Contact.id == contact.id
            if contact.device_id is not None and contact.email:
                same = sa.or_(
                    same,
                    sa.and_(
                        Contact.device_id == contact.device_id,
                        sa.func.lower(Contact.email) == contact.email.lower(),
                    ),
                )
            db.session.execute(
                sa.update(Contact)
                .where(same, Contact.notify_by_email.is_(True))
                .values(notify_by_email=False)
                .execution_options(synchronize_session=False)
            )
