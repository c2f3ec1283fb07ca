from __future__ import annotations

import uuid
from datetime import datetime, time
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

# Models named in foreign keys below, so the tables can always be sorted. Reports and feedback
# sit above this feature (they call notify()): they are named only by table and class name, and
# create_app's import_models() imports their models before any mapper is configured.
from copa.auth import models as _auth  # noqa: F401
from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow


class NotifyChannel(StrEnum):
    """How a notification leaves the process (OutboxMessage.channel); the inbox needs none."""

    FCM = "fcm"  # Firebase Cloud Messaging HTTP v1 (Android, and iOS through Firebase)
    APNS = "apns"  # Apple Push Notification service, token-based auth, when configured
    EMAIL = "resident_email"


class Notification(UUIDPrimaryKey, db.Model):
    """One thing a resident is told: the row of their in-app inbox.

    ``title`` and ``body`` are what a lock screen may show (the reference and the kind of
    update, never a description, address, name or note); ``note`` is the public note of staff
    or a partner, shown only inside the signed-in app.
    """

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_inbox", "device_id", "created_at"),)

    device_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("device.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(48))
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    feedback_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("feedback.id", ondelete="CASCADE"), index=True
    )
    reference: Mapped[str | None] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    # The submission it is about (read only: notify() sets the ids).
    report = relationship("Report", viewonly=True)
    feedback = relationship("Feedback", viewonly=True)


class PushToken(UUIDPrimaryKey, Timestamps, db.Model):
    """The push token of a resident's app install (one per install; a new one replaces it)."""

    __tablename__ = "push_token"

    device_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("device.id", ondelete="CASCADE"), unique=True
    )
    platform: Mapped[str] = mapped_column(sa.String(16))  # android, ios
    token: Mapped[str] = mapped_column(sa.String(4096))
    locale: Mapped[str | None] = mapped_column(sa.String(35))
    app_version: Mapped[str | None] = mapped_column(sa.String(32))


class NotificationPreferences(db.Model):
    """A resident's choices: push and email on or off, quiet hours (Europe/London), language."""

    __tablename__ = "notification_preferences"

    device_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    push: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)
    quiet_hours_start: Mapped[time | None] = mapped_column(sa.Time)
    quiet_hours_end: Mapped[time | None] = mapped_column(sa.Time)
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
