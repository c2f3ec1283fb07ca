from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

# Models named in relationship() strings below, so the mappers can always be configured.
from copa.areas import models as _areas  # noqa: F401
from copa.auth import models as _auth  # noqa: F401
from copa.contacts import models as _contacts  # noqa: F401
from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow
from copa.periods import Quarter


class FeedbackKind(StrEnum):
    COMPLIMENT = "compliment"
    SUGGESTION = "suggestion"
    DISSATISFACTION = "dissatisfaction"


class FeedbackState(StrEnum):
    """How a compliment or suggestion is handled (a dissatisfaction follows its complaint case)."""

    RECEIVED = "received"
    PASSED_ON = "passed_on"  # a compliment, passed to the officer, team or organisation praised
    ANSWERED = "answered"  # a suggestion, considered and answered
    CLOSED = "closed"


class ComplaintState(StrEnum):
    LOGGED = "logged"
    CONTACTED = "contacted"
    SERVICE_RECOVERY = "service_recovery"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CLOSED = "closed"


class AllegationGroup(StrEnum):
    """How the PCC report groups allegations (DOMAIN.md "Feedback and complaints")."""

    DELIVERY_OF_DUTIES = "delivery_of_duties_and_services"
    POLICE_POWERS = "police_powers_policies_and_procedures"
    INDIVIDUAL_BEHAVIOUR = "individual_behaviour"
    OTHER = "other"


class ServiceRecoveryKind(StrEnum):
    """What the Resolution Team did to put things right before anything else."""

    EXPLANATION = "explanation"
    APOLOGY = "apology"
    UPDATE = "update"
    PUTTING_THINGS_RIGHT = "putting_things_right"
    SIGNPOSTING = "signposting"


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
    # Compliments and suggestions: handled by staff (feedback/service.py), then closed.
    state: Mapped[str] = mapped_column(sa.String(16), default=FeedbackState.RECEIVED, index=True)
    passed_to: Mapped[str | None] = mapped_column(sa.String(200))  # a compliment: to whom
    response: Mapped[str | None] = mapped_column(sa.Text)  # a suggestion: the answer given
    handled_at: Mapped[datetime | None]

    contact = relationship("Contact")
    ward = relationship("Ward")
    local_authority = relationship("LocalAuthority")
    complaint: Mapped[ComplaintCase | None] = relationship(back_populates="feedback", uselist=False)
    # The conversation with the complainant, oldest first. Read only: copa.messages, above this
    # feature, writes it, and import_models() imports its model before mappers are configured.
    messages = relationship(
        "ResidentMessage",
        viewonly=True,
        order_by="[ResidentMessage.created_at, ResidentMessage.id]",
    )

    @property
    def area(self) -> dict | None:
        from copa.areas.service import area_of  # names from the process's area index

        return area_of(self.ward_code, self.local_authority_code)


class ComplaintCase(UUIDPrimaryKey, Timestamps, db.Model):
    """The Resolution Team's case for an expression of dissatisfaction (Police Reform Act 2002)."""

    __tablename__ = "complaint_case"
    __table_args__ = (
        sa.Index(
            "ix_complaint_case_first_contact",
            "logged_fiscal_year",
            "logged_fiscal_quarter",
            "first_contact_seconds",
        ),
    )

    feedback_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("feedback.id", ondelete="CASCADE"), unique=True
    )
    # Changed only by feedback/workflow.py's complaint_transition(); logged when the case opens.
    state: Mapped[str] = mapped_column(sa.String(24), default=ComplaintState.LOGGED, index=True)
    logged_at: Mapped[datetime]
    first_contact_at: Mapped[datetime | None]  # time to first contact = this - logged_at
    # Derived from the two above whenever the case is written (_derive_measures): the quarterly
    # report groups and ranks thousands of cases by them without any time-zone arithmetic.
    logged_fiscal_year: Mapped[int | None]
    logged_fiscal_quarter: Mapped[int | None]
    first_contact_seconds: Mapped[int | None]
    escalated_at: Mapped[datetime | None]
    first_action_at: Mapped[datetime | None]  # the first service-recovery action
    escalation_reason: Mapped[str | None] = mapped_column(sa.Text)
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id"), index=True
    )
    # The complainant's one answer, once the case is closed: how satisfied, 1-5.
    satisfaction_score: Mapped[int | None]
    satisfaction_comment: Mapped[str | None] = mapped_column(sa.Text)
    satisfaction_at: Mapped[datetime | None]

    feedback: Mapped[Feedback] = relationship(back_populates="complaint")
    assignee = relationship("User")
    timeline: Mapped[list[ComplaintTimelineEntry]] = relationship(
        back_populates="case",
        order_by="ComplaintTimelineEntry.at",
        cascade="all, delete-orphan",
    )
    allegations: Mapped[list[Allegation]] = relationship(
        back_populates="case", order_by="Allegation.created_at", cascade="all, delete-orphan"
    )
    actions: Mapped[list[ServiceRecoveryAction]] = relationship(
        back_populates="case",
        order_by="ServiceRecoveryAction.at",
        cascade="all, delete-orphan",
    )


@event.listens_for(ComplaintCase, "before_insert")
@event.listens_for(ComplaintCase, "before_update")
def _derive_measures(mapper: object, connection: object, case: ComplaintCase) -> None:
    quarter = Quarter.of(case.logged_at)
    case.logged_fiscal_year, case.logged_fiscal_quarter = quarter.fiscal_year, quarter.quarter
    case.first_contact_seconds = (
        None
        if case.first_contact_at is None
        else round((case.first_contact_at - case.logged_at).total_seconds())
    )


class ComplaintTimelineEntry(UUIDPrimaryKey, db.Model):
    """One change of a complaint case's state; the complainant reads the public note."""

    __tablename__ = "complaint_timeline"

    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("complaint_case.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[uuid.UUID | None]
    from_state: Mapped[str | None] = mapped_column(sa.String(24))
    to_state: Mapped[str] = mapped_column(sa.String(24))
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    public_note: Mapped[str | None] = mapped_column(sa.Text)
    internal_note: Mapped[str | None] = mapped_column(sa.Text)

    case: Mapped[ComplaintCase] = relationship(back_populates="timeline")


class Allegation(UUIDPrimaryKey, db.Model):
    """One thing the complainant says went wrong: a group of the PCC report and a free code."""

    __tablename__ = "allegation"

    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("complaint_case.id", ondelete="CASCADE"), index=True
    )
    group: Mapped[str] = mapped_column("allegation_group", sa.String(48), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None]

    case: Mapped[ComplaintCase] = relationship(back_populates="allegations")


class ServiceRecoveryAction(UUIDPrimaryKey, db.Model):
    """Something the Resolution Team did to put things right (an apology, an explanation...)."""

    __tablename__ = "service_recovery_action"

    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("complaint_case.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None]

    case: Mapped[ComplaintCase] = relationship(back_populates="actions")
