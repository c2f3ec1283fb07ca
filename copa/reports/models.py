from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

# Models named in relationship() strings below, so the mappers can always be configured.
from copa.areas import models as _areas  # noqa: F401
from copa.auth import models as _auth  # noqa: F401
from copa.catalog import models as _catalog  # noqa: F401
from copa.contacts import models as _contacts  # noqa: F401
from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow


class ReportStatus(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Channel(StrEnum):
    APP = "app"
    OPEN311 = "open311"


class Report(UUIDPrimaryKey, Timestamps, db.Model):
    """A resident's non-emergency report."""

    __tablename__ = "report"

    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(16), default=Channel.APP)
    category_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("category.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    # Exact coordinates are for whoever must act; public and aggregate outputs use area codes.
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    address_text: Mapped[str | None] = mapped_column(sa.String(300))
    ward_code: Mapped[str | None] = mapped_column(sa.ForeignKey("ward.code"), index=True)
    local_authority_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    occurred_at: Mapped[datetime | None]
    happening_now: Mapped[bool] = mapped_column(default=False)
    answers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # A copy of the category's extra questions as the resident was asked them (text, choices):
    # an admin's later change to the category rewrites nothing here. None: made before copies
    # were kept and not backfilled; the category's current questions stand in.
    questions_asked: Mapped[list[dict] | None] = mapped_column(sa.JSON)
    anonymous: Mapped[bool] = mapped_column(default=False)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="SET NULL"), index=True
    )
    share_contact_with_partner: Mapped[bool] = mapped_column(default=False)
    would_have_called_101: Mapped[str | None] = mapped_column(sa.String(8))
    # Changed only by reports/workflow.py's transition(); a new report starts as received.
    status: Mapped[str] = mapped_column(sa.String(16), default=ReportStatus.RECEIVED, index=True)
    # COPA's outcome code of the last staff decision (reports/workflow.py REPORT_OUTCOMES).
    outcome: Mapped[str | None] = mapped_column(sa.String(40), active_history=True)
    possible_emergency: Mapped[bool] = mapped_column(default=False, index=True)
    # active_history: the metrics rollups need the old value of a change (metrics/rollups.py).
    destination_kind: Mapped[str] = mapped_column(sa.String(32), active_history=True)
    destination_name: Mapped[str] = mapped_column(sa.String(200))
    # No routing rule matched: it waits, received, for staff to route it (never dropped).
    unrouted: Mapped[bool] = mapped_column(default=False, index=True)
    # Its referral's only delivery died: staff must see it (the resident is not told "Sent").
    delivery_failed: Mapped[bool] = mapped_column(default=False, index=True)
    # DOMAIN.md's repeat antisocial behaviour rule met (ASB Case Review threshold).
    repeat_asb: Mapped[bool] = mapped_column(default=False, index=True)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id"), index=True
    )
    duplicate_of_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("report.id"))

    category = relationship("Category", lazy="joined")
    contact = relationship("Contact")
    ward = relationship("Ward")
    local_authority = relationship("LocalAuthority")
    assignee = relationship("User", foreign_keys=[assignee_id])
    duplicate_of = relationship("Report", remote_side="Report.id", foreign_keys=[duplicate_of_id])
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="report", order_by="TimelineEntry.at", cascade="all, delete-orphan"
    )
    # A redacted photo is no longer the report's: only an admin reaches it, through the audit log.
    photos: Mapped[list[Photo]] = relationship(
        primaryjoin="and_(Photo.report_id == Report.id, Photo.redacted_at.is_(None))",
        back_populates="report",
        order_by="Photo.created_at",
        cascade="all, delete-orphan",
    )
    videos: Mapped[list[Video]] = relationship(
        back_populates="report", order_by="Video.created_at", cascade="all, delete-orphan"
    )

    @property
    def answered_questions(self) -> list[dict]:
        """Each answer beside the question text and choice labels the resident was shown."""
        from copa.catalog.service import answered_questions

        asked = self.questions_asked
        if asked is None:
            asked = self.category.attributes or []
        return answered_questions(asked, self.answers or {})

    @property
    def area(self) -> dict | None:
        from copa.areas.service import area_of  # names from the process's area index

        return area_of(self.ward_code, self.local_authority_code)

    @property
    def location(self) -> dict | None:
        return None if self.lat is None else {"lat": self.lat, "lon": self.lon}

    @property
    def destination(self) -> dict:
        return {"kind": self.destination_kind, "name": self.destination_name}


class TimelineEntry(UUIDPrimaryKey, db.Model):
    """One change of a report's status: who, when, from, to, and what the resident may read."""

    __tablename__ = "report_timeline"

    report_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))  # resident, staff, partner, system
    actor_id: Mapped[uuid.UUID | None]
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    public_note: Mapped[str | None] = mapped_column(sa.Text)
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    internal_note: Mapped[str | None] = mapped_column(sa.Text)  # staff only, never the resident

    report: Mapped[Report] = relationship(back_populates="timeline")


class Photo(UUIDPrimaryKey, db.Model):
    """A photo attached to a report, stored only after re-encoding with no metadata left."""

    __tablename__ = "report_photo"

    report_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    redacted_at: Mapped[datetime | None]

    report: Mapped[Report] = relationship(back_populates="photos")


class VideoState(StrEnum):
    PROCESSING = "processing"  # quarantined original waiting for (or in) the media worker
    READY = "ready"  # re-encoded, metadata gone: served with its poster
    FAILED = "failed"  # the worker could not make it playable (failure_reason says why)


class Video(UUIDPrimaryKey, db.Model):
    """A video attached to a report: the phone's original waits in quarantine (never served)
    until the media worker has re-encoded it with no metadata and made its poster."""

    __tablename__ = "report_video"
    __table_args__ = (sa.Index("ix_report_video_due", "state", "lease_until"),)

    report_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    # Changed only by copa/reports/media.py (the worker) and videos.py (upload).
    state: Mapped[str] = mapped_column(sa.String(16), default=VideoState.PROCESSING)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(32))  # a word, never text
    quarantine_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    storage_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    poster_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    content_type: Mapped[str | None] = mapped_column(sa.String(32))
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_seconds: Mapped[float | None]
    size_bytes: Mapped[int | None]
    upload_bytes: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=0)
    # A media worker holds a video only while processing it: who, and until when.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]

    report: Mapped[Report] = relationship(back_populates="videos")
