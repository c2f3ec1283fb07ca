"""The resident's own data: contact details kept apart, erasure and retention."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from copa.auth.models import Device, User
from copa.auth.service import end_device_continuity, revoke_all_for_device
from copa.confidence.models import Vote
from copa.db import begin_write, db, utcnow
from copa.feedback.models import Feedback
from copa.notifications.models import (
    MessageDirection,
    Notification,
    NotificationPreferences,
    PushToken,
    ResidentMessage,
)
from copa.privacy.models import Contact
from copa.reports.models import Report
from copa.web.access import Principal
from copa.web.models import IdempotencyKey
from copa.web.problems import Forbidden


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


def about_me(principal: Principal) -> dict:
    """What the service holds about the caller."""
    if principal.kind != "device":
        user = db.session.get(User, principal.id)
        return {
            "kind": "user",
            "id": principal.id,
            "roles": sorted(principal.roles),
            "email": user.email,
            "display_name": user.display_name,
            "partner_id": user.partner_id,
            "created_at": user.created_at,
        }
    device = db.session.get(Device, principal.id)

    def count(model: type, column: sa.ColumnElement) -> int:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(column == principal.id)
        )

    return {
        "kind": "resident",
        "id": device.id,
        "roles": sorted(principal.roles),
        "platform": device.platform,
        "app_version": device.app_version,
        "created_at": device.created_at,
        "reports": count(Report, Report.device_id),
        "feedback": count(Feedback, Feedback.device_id),
        "votes": count(Vote, Vote.device_id),
        "contact_details": count(Contact, Contact.device_id),
    }


def erase_resident(principal: Principal) -> None:
    """Erase a resident's personal data (UK GDPR): contact details and the link from their
    submissions to their app install. Submissions stay, anonymised, for the public task;
    every token of the device is revoked.
    """
    if principal.kind != "device":
        raise Forbidden("Staff and partner accounts are closed by an administrator.")
    begin_write()
    device_id = principal.id
    for model in (Report, Feedback):
        values = {"contact_id": None, "device_id": None}
        if model is Report:
            values["share_contact_with_partner"] = False
        db.session.execute(sa.update(model).where(model.device_id == device_id).values(**values))
    db.session.execute(sa.update(Vote).where(Vote.device_id == device_id).values(device_id=None))
    db.session.execute(sa.delete(Contact).where(Contact.device_id == device_id))
    # The resident's own messages to staff (what staff wrote to them stays: it names nobody).
    db.session.execute(
        sa.delete(ResidentMessage).where(
            ResidentMessage.device_id == device_id,
            ResidentMessage.direction == MessageDirection.FROM_RESIDENT,
        )
    )
    # What it was told, how to reach it and its choices: nothing more is sent afterwards
    # (pending pushes and emails find no notification, token or address and are cancelled).
    for model in (Notification, PushToken, NotificationPreferences):
        db.session.execute(sa.delete(model).where(model.device_id == device_id))
    # Stored responses of the device's retried requests may repeat what it sent.
    db.session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.principal == principal.subject)
    )
    revoke_all_for_device(device_id, "erased")
    end_device_continuity(device_id)  # its secret and transfer codes open nothing any more
    db.session.execute(
        sa.update(Device)
        .where(Device.id == device_id)
        .values(erased_at=utcnow(), platform=None, app_version=None)
    )
    db.session.commit()


def purge_expired_contacts() -> int:
    """Delete contact details older than COPA_CONTACT_RETENTION_DAYS; returns how many."""
    days = int(current_app.config["CONTACT_RETENTION_DAYS"])
    begin_write()
    expired = sa.select(Contact.id).where(Contact.created_at < utcnow() - timedelta(days=days))
    for model in (Report, Feedback):
        values = {"contact_id": None}
        if model is Report:
            values["share_contact_with_partner"] = False
        db.session.execute(sa.update(model).where(model.contact_id.in_(expired)).values(**values))
    deleted = db.session.execute(sa.delete(Contact).where(Contact.id.in_(expired))).rowcount
    db.session.commit()
    return deleted
