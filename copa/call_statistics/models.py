from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import Timestamps, UUIDPrimaryKey, db


class CallStatistics(UUIDPrimaryKey, Timestamps, db.Model):
    """The force's 101 (and optionally 999) call figures for one quarter, imported by staff in
    the seed performance report's shape."""

    __tablename__ = "call_statistics"
    __table_args__ = (sa.UniqueConstraint("fiscal_year", "fiscal_quarter"),)

    fiscal_year: Mapped[int]
    fiscal_quarter: Mapped[int]
    non_emergency_calls: Mapped[int]
    answered_within_2_minutes_percent: Mapped[float]
    average_wait_seconds: Mapped[int]
    emergency_calls: Mapped[int | None]
    emergency_answered_within_10_seconds_percent: Mapped[float | None]
    # How long a call handler spends on a non-emergency call; minutes saved use it when present.
    average_handling_seconds: Mapped[int | None]
    entered_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
