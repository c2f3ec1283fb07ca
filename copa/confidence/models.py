from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import UUIDPrimaryKey, db, utcnow


class Vote(UUIDPrimaryKey, db.Model):
    """One app vote. Every vote is kept; at most one per resident and quarter is counted,
    whatever area it names (a ward vote also counts in its authority's and the force's figures,
    so one counted vote per quarter is what counts a resident at most once in any figure).

    The partial unique index is what keeps the count honest, whatever the rate limits let in.
    """

    __tablename__ = "vote"
    __table_args__ = (
        sa.Index(
            "uq_vote_counted_per_resident_quarter",
            "device_id",
            "fiscal_year",
            "fiscal_quarter",
            unique=True,
            sqlite_where=sa.text("counted"),
            postgresql_where=sa.text("counted"),
        ),
    )

    device_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="SET NULL"), index=True
    )
    option: Mapped[str] = mapped_column(sa.String(24))
    value: Mapped[int]
    area_code: Mapped[str] = mapped_column(sa.String(9))  # the ward or local authority voted for
    ward_code: Mapped[str | None] = mapped_column(sa.ForeignKey("ward.code"), index=True)
    local_authority_code: Mapped[str] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    fiscal_year: Mapped[int]  # the year the financial year starts: 2025 for 2025/26
    fiscal_quarter: Mapped[int]  # 1 (Apr-Jun) .. 4 (Jan-Mar), Europe/London
    cast_at: Mapped[datetime] = mapped_column(default=utcnow)
    counted: Mapped[bool] = mapped_column(default=True)
    replaced_at: Mapped[datetime | None]


class Tally(UUIDPrimaryKey, db.Model):
    """The counts from a physical counter session at a community event, entered by staff."""

    __tablename__ = "confidence_tally"

    event_name: Mapped[str] = mapped_column(sa.String(200))
    event_date: Mapped[date]
    area_code: Mapped[str] = mapped_column(sa.String(9))
    ward_code: Mapped[str | None] = mapped_column(sa.ForeignKey("ward.code"), index=True)
    local_authority_code: Mapped[str] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    fiscal_year: Mapped[int]
    fiscal_quarter: Mapped[int]
    not_at_all_confident: Mapped[int]
    not_very_confident: Mapped[int]
    neither: Mapped[int]
    quite_confident: Mapped[int]
    very_confident: Mapped[int]
    entered_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
