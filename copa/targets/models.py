from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import db, utcnow


class Measure:
    """What a target times (service.py defines each precisely)."""

    REPORT_FIRST_ACTION = "report_first_action"
    COMPLAINT_FIRST_CONTACT = "complaint_first_contact"
    REFERRAL_ACKNOWLEDGEMENT = "referral_acknowledgement"


# The scope of a target that applies to every report category without one of its own, and of
# the targets that have no category at all. Never a category code (those start with a letter).
EVERY = "*"


class Target(db.Model):
    """How many hours a measure may take: one row per measure and scope (a category code, or
    ``*``). A missing row means the built-in default (service.DEFAULT_HOURS)."""

    __tablename__ = "service_target"

    measure: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    hours: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
