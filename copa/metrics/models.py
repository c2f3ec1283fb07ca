"""Rollups of the Commissioner's measures.

Each rollup row is a count for one combination of dimensions, kept by ``metrics/rollups.py``
in the same transaction as the rows it counts. Dimensions that may be absent (a report with no
ward, an outcome not yet decided) are stored as ``''``, never NULL: NULLs are distinct in a
primary key on neither database, so ON CONFLICT could not find their row. Every row carries its
financial quarter, so the report groups by quarter without date arithmetic in SQL.
"""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import db

NONE = ""  # an absent dimension (see the module docstring)


class _Quartered:
    """Columns every rollup has besides its key: the quarter of its period, and the count."""

    fiscal_year: Mapped[int]
    fiscal_quarter: Mapped[int]
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ConfidenceRollup(_Quartered, db.Model):
    """Counted app votes and event counters per Europe/London month, area, channel and option."""

    __tablename__ = "rollup_confidence"
    __table_args__ = (sa.Index("ix_rollup_confidence_quarter", "fiscal_year", "fiscal_quarter"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    area_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)  # ward or authority
    channel: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # app, event
    option: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    ward_code: Mapped[str] = mapped_column(sa.String(9), default=NONE)
    local_authority_code: Mapped[str] = mapped_column(sa.String(9))


class ReportRollup(_Quartered, db.Model):
    """Reports per week (cut at month ends), area, category, channel, destination and outcome."""

    __tablename__ = "rollup_report"
    __table_args__ = (sa.Index("ix_rollup_report_quarter", "fiscal_year", "fiscal_quarter"),)

    week: Mapped[date] = mapped_column(primary_key=True)  # periods.week_of
    local_authority_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    ward_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    destination_kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(40), primary_key=True)


class ReportMonthRollup(_Quartered, db.Model):
    """Reports per month and local authority (no ward, no week): what the quarterly report and
    every authority-level measure read, a few rows a month where the weekly rollup has
    thousands."""

    __tablename__ = "rollup_report_month"
    __table_args__ = (sa.Index("ix_rollup_report_month_quarter", "fiscal_year", "fiscal_quarter"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    local_authority_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    destination_kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(40), primary_key=True)


class CallAnswerRollup(_Quartered, db.Model):
    """Answers to "Would you otherwise have phoned 101?" per month and area."""

    __tablename__ = "rollup_call_answer"
    __table_args__ = (sa.Index("ix_rollup_call_answer_quarter", "fiscal_year", "fiscal_quarter"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    local_authority_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    ward_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    answer: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # yes, no, not_sure, ''


class FeedbackRollup(_Quartered, db.Model):
    """Feedback (compliments, suggestions, expressions of dissatisfaction) per month and area."""

    __tablename__ = "rollup_feedback"
    __table_args__ = (sa.Index("ix_rollup_feedback_quarter", "fiscal_year", "fiscal_quarter"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    local_authority_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    ward_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)


class AllegationRollup(_Quartered, db.Model):
    """Complaint allegations per month recorded and PCC-report group."""

    __tablename__ = "rollup_allegation"

    month: Mapped[date] = mapped_column(primary_key=True)
    group: Mapped[str] = mapped_column("allegation_group", sa.String(48), primary_key=True)


class ComplaintRollup(_Quartered, db.Model):
    """Complaint cases per month logged: escalated or not, put right by service recovery (an
    action taken) or not, the complainant contacted or not."""

    __tablename__ = "rollup_complaint"

    month: Mapped[date] = mapped_column(primary_key=True)
    escalated: Mapped[bool] = mapped_column(primary_key=True)
    recovered: Mapped[bool] = mapped_column(primary_key=True)
    contacted: Mapped[bool] = mapped_column(primary_key=True)


class SatisfactionRollup(_Quartered, db.Model):
    """Complainants' satisfaction answers (1-5) per month answered."""

    __tablename__ = "rollup_satisfaction"

    month: Mapped[date] = mapped_column(primary_key=True)
    score: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class ReferralRollup(_Quartered, db.Model):
    """Referrals per month sent and partner: how many were sent, and how long acknowledging and
    resolving took, as a histogram (``bucket`` indexes ``rollups.DURATION_BUCKETS``) with the
    seconds summed, so medians can be estimated without reading every referral."""

    __tablename__ = "rollup_referral"
    __table_args__ = (sa.Index("ix_rollup_referral_quarter", "fiscal_year", "fiscal_quarter"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    milestone: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # sent, ack.., res..
    bucket: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    total_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ClickThroughRollup(_Quartered, db.Model):
    """Signpost click-throughs per month, local authority ('' unknown), signpost, topic,
    destination kind and source (app or the counting redirect)."""

    __tablename__ = "rollup_click_through"
    __table_args__ = (sa.Index("ix_rollup_click_through_quarter", "fiscal_year", "fiscal_quarter"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    local_authority_code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    signpost_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    destination_kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(8), primary_key=True)


ROLLUPS: tuple[type, ...] = (
    ConfidenceRollup,
    ReportRollup,
    ReportMonthRollup,
    CallAnswerRollup,
    FeedbackRollup,
    AllegationRollup,
    ComplaintRollup,
    SatisfactionRollup,
    ReferralRollup,
    ClickThroughRollup,
)
