"""The append-only audit log, and the other staff-only record beside it: internal notes."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import UUIDPrimaryKey, db, utcnow

# The tables an internal note refers to (report, complaint_case: features above this one;
# user_account) are named by string and never imported here: create_app imports every
# feature's models (import_models) before the metadata is used.


class AuditEvent(UUIDPrimaryKey, db.Model):
    """One action of a staff member, partner user or admin: who, as what, did what to what.

    Append-only: the database refuses to change or delete a row (triggers in the migration).
    No foreign keys, so the record outlives whatever it describes.
    """

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_target", "target_kind", "target_id"),)

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))  # staff, partner, system
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_roles: Mapped[str] = mapped_column(sa.String(120), default="")  # comma-separated
    action: Mapped[str] = mapped_column(sa.String(64), index=True)  # e.g. report.transition
    target_kind: Mapped[str] = mapped_column(sa.String(32))  # report, complaint, partner, ...
    target_id: Mapped[uuid.UUID | None]
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)


class InternalNote(UUIDPrimaryKey, db.Model):
    """A note staff keep on a report or a complaint case; never shown outside the OPCC."""

    __tablename__ = "internal_note"
    __table_args__ = (
        sa.CheckConstraint("(report_id IS NULL) <> (complaint_case_id IS NULL)", name="one_target"),
    )

    report_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    complaint_case_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("complaint_case.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
