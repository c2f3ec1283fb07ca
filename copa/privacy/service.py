"""The resident's own data: what is held about them (/v1/me), erasure and retention."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from copa.auth.models import Device, User
from copa.auth.service import end_device_continuity, revoke_all_for_device
from copa.confidence.models import Vote
from copa.contacts.models import Contact
from copa.db import db, scrub_deleted, utcnow, write
from copa.feedback.models import Feedback
from copa.messages.models import MessageDirection, ResidentMessage
from copa.notifications.models import Notification, NotificationPreferences, PushToken
from copa.outbox.channels.mail_sink import forget_mail_mentioning, purge_old_mail
from copa.reports.models import Report
from copa.settings import settings
from copa.web.access import Principal
from copa.web.models import IdempotencyKey
from copa.web.problems import Forbidden

# Tables whose deleted rows held contact details or what a resident wrote: scrubbed (VACUUM on
# PostgreSQL) right after an erasure, with the tables an erasure or purge updates added by the
# scheduled purge (a large table's VACUUM is no work for a request).
ERASED_TABLES = ("contact", "resident_message", "idempotency_key", "push_token")
PURGED_TABLES = (
    *ERASED_TABLES,
    "report",
    "feedback",
    "vote",
    "notification",
    "report_photo",
    "report_video",
)
# How long an erasure waits for other connections before leaving the scrub to the next purge.
ERASURE_SCRUB_PATIENCE_MS = 2000


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
    with write():
        device_id = principal.id
        # How the resident was reached, so copies in the mail sink can be found once it is gone.
        addresses = _reachable_at(Contact.device_id == device_id)
        for model in (Report, Feedback):
            values = {"contact_id": None, "device_id": None}
            if model is Report:
                values["share_contact_with_partner"] = False
            db.session.execute(
                sa.update(model).where(model.device_id == device_id).values(**values)
            )
        db.session.execute(
            sa.update(Vote).where(Vote.device_id == device_id).values(device_id=None)
        )
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
    # After the commit: the old bytes of what was deleted (the -wal file, dead row versions)
    # and the sent emails that name the resident.
    scrub_deleted(ERASED_TABLES, patience_ms=ERASURE_SCRUB_PATIENCE_MS)
    forget_mail_mentioning(addresses)


def purge_expired_contacts() -> int:
    """Delete contact details older than COPA_CONTACT_RETENTION_DAYS; returns how many."""
    days = settings().contact_retention_days
    with write():
        cutoff = utcnow() - timedelta(days=days)
        expired = sa.select(Contact.id).where(Contact.created_at < cutoff)
        addresses = _reachable_at(Contact.created_at < cutoff)
        # A stored response to the request that gave them repeats them (kept at least 7 days for
        # retries, which a retention shorter than that overrides).
        devices = sa.select(Contact.device_id).where(
            Contact.created_at < cutoff, Contact.device_id.is_not(None)
        )
        subjects = [f"device:{device_id}" for device_id in db.session.scalars(devices.distinct())]
        if subjects:
            db.session.execute(
                sa.delete(IdempotencyKey).where(
                    IdempotencyKey.principal.in_(subjects), IdempotencyKey.created_at < cutoff
                )
            )
        for model in (Report, Feedback):
            values = {"contact_id": None}
            if model is Report:
                values["share_contact_with_partner"] = False
            db.session.execute(
                sa.update(model).where(model.contact_id.in_(expired)).values(**values)
            )
        deleted = db.session.execute(sa.delete(Contact).where(Contact.id.in_(expired))).rowcount
    forget_mail_mentioning(addresses)
    return deleted


def purge_expired_mail() -> int:
    """Delete the mail sink's files (development, no SMTP) older than the contact retention."""
    return purge_old_mail(settings().contact_retention_days)


def scrub_purged(full: bool = False) -> bool:
    """Leave no old copy of purged or erased rows in the database's files (run after a purge):
    a WAL checkpoint on SQLite, VACUUM on PostgreSQL (``full``: rewritten, VACUUM FULL);
    False if it could not finish."""
    return scrub_deleted(PURGED_TABLES, full=full)


def _reachable_at(condition: sa.ColumnElement[bool]) -> set[str]:
    """The email addresses and phone numbers of the contact details that match."""
    rows = db.session.execute(sa.select(Contact.email, Contact.phone).where(condition))
    return {value for row in rows for value in row if value}
