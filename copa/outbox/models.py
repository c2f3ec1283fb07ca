from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from copa.db import UUIDPrimaryKey, db, utcnow

# "Partner" and "Referral" (routing, a feature above the outbox) are named by string and never
# imported here: create_app imports every feature's models (import_models) before a mapper is
# configured.


class MessageState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at)
    DELIVERED = "delivered"
    DEAD = "dead"  # out of attempts: shown to staff, who can retry it
    CANCELLED = "cancelled"  # e.g. the partner's endpoint is gone (410) or it has no channel


class OutboxMessage(UUIDPrimaryKey, db.Model):
    """Something that must leave the process, written in the same transaction as its cause.

    Its id is the message id receivers deduplicate on (Standard Webhooks ``webhook-id``).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_due", "state", "next_attempt_at"),)

    event_type: Mapped[str] = mapped_column(sa.String(64))  # e.g. referral.created
    # A message goes to a partner (a referral) or to a resident (a notification's push or email).
    partner_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("partner.id"), index=True)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    state: Mapped[str] = mapped_column(sa.String(16), default=MessageState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the resident's quiet hours held the message back: until when.
    held_until: Mapped[datetime | None]
    # A relay holds a message only while delivering it: who, and until when.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    referral = relationship("Referral")
    partner = relationship("Partner")
    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="message", order_by="DeliveryAttempt.attempted_at"
    )


class DeliveryAttempt(UUIDPrimaryKey, db.Model):
    """One try at delivering a message: when, how long, what came back."""

    __tablename__ = "delivery_attempt"

    message_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # delivered, retry, dead, cancelled

    message: Mapped[OutboxMessage] = relationship(back_populates="attempt_log")
