from __future__ import annotations

import uuid
from collections.abc import Mapping

from copa.contacts.models import Contact
from copa.db import db


def new_contact(device_id: uuid.UUID, details: Mapping[str, object] | None) -> Contact | None:
    """Keep the contact details given with a submission (part of the caller's transaction)."""
    if not details:
        return None
    contact = Contact(
        device_id=device_id,
        name=details.get("name"),
        email=details.get("email"),
        phone=details.get("phone"),
        notify_by_email=bool(details.get("email") and details.get("notify_by_email")),
    )
    db.session.add(contact)
    return contact
