from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

# Models named in relationship() strings below, so the mappers can always be configured.
from copa.areas import models as _areas  # noqa: F401
from copa.db import Timestamps, UUIDPrimaryKey, db
from copa.privacy import models as _privacy  # noqa: F401


class FeedbackKind(StrEnum):
    COMPLIMENT = "compliment"
    SUGGESTION = "suggestion"
    DISSATISFACTION = "dissatisfaction"


class ComplaintState(StrEnum):
    LOGGED = "logged"
    CONTACTED = "contacted"
    SERVICE_RECOVERY = "service_recovery"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Feedback(UUIDPrimaryKey, Timestamps, db.Model):
    """A resident's compliment, suggestion or expression of dissatisfaction."""

    __tablename__ = "feedback"

    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    incident_date: Mapped[date | None]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    ward_code: Mapped[str | None] = mapped_column(sa.ForeignKey("ward.code"), index=True)
    local_authority_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    officer_identifier: Mapped[str | None] = mapped_column(sa.String(64))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="SET NULL"), index=True
    )
    possible_emergency: Mapped[bool] = mapped_column(default=False)

    contact = relationship("Contact")
    ward = relationship("Ward")
    local_authority = relationship("LocalAuthority")
    complaint: Mapped[ComplaintCase | None] = relationship(back_populates="feedback", uselist=False)

    @property
    def area(self) -> dict | None:
        from copa.areas.service import area_of  # names from the process's area index

        return area_of(self.ward_code, self.local_authority_code)


class ComplaintCase(UUIDPrimaryKey, Timestamps, db.Model):
    """The Resolution Team's case for an expression of dissatisfaction (Police Reform Act 2002)."""

    __tablename__ = "complaint_case"

    feedback_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("feedback.id", ondelete="CASCADE"), unique=True
    )
    # Changed only by the review workflow once it exists; logged when the case opens.
    state: Mapped[str] = mapped_column(sa.String(24), default=ComplaintState.LOGGED, index=True)
    logged_at: Mapped[datetime]
    first_contact_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    feedback: Mapped[Feedback] = relationship(back_populates="complaint")
