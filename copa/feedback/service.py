"""Use cases of resident feedback: giving it, reading one's own back, and the Resolution Team's
work on complaint cases.

An expression of dissatisfaction is a complaint (Police Reform Act 2002): it opens a complaint
case in ``logged`` in the same transaction as the feedback, so the Resolution Team never misses one.
The team contacts the complainant (time to first contact is measured), tries service recovery,
escalates serious matters (Schedule 3) and closes the case; the complainant then answers once how
satisfied they are. Every state change goes through ``feedback.workflow.complaint_transition``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from copa.areas.service import area_by_code, locate_point
from copa.audit.models import AuditEvent, InternalNote
from copa.audit.service import Actor, record, trail
from copa.auth.models import User
from copa.auth.service import assignee
from copa.contacts.service import new_contact
from copa.db import bulk_changed, db, utcnow, write
from copa.emergency import possible_emergency
from copa.feedback.models import (
    Allegation,
    ComplaintCase,
    ComplaintState,
    Feedback,
    FeedbackKind,
    ServiceRecoveryAction,
)
from copa.feedback.workflow import complaint_transition
from copa.notifications.service import SentRecord, notify, sent_to_resident
from copa.periods import local_day_end, local_day_start
from copa.references import next_reference
from copa.web.access import Principal, Role
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, Unprocessable, problem_type

# Who may hold a complaint case.
CASE_HOLDER_ROLES = frozenset({Role.RESOLUTION, Role.ADMIN})
# States in which the Resolution Team records service-recovery actions.
SERVICE_RECOVERY_STATES = (ComplaintState.CONTACTED, ComplaintState.SERVICE_RECOVERY)


class FeedbackNotFound(NotFound):
    type = problem_type("feedback-not-found")


class ComplaintNotFound(NotFound):
    type = problem_type("complaint-not-found")


class InvalidFirstContact(Unprocessable):
    type = problem_type("invalid-first-contact")


class ComplaintClosed(Conflict):
    type = problem_type("complaint-closed")


class ServiceRecoveryNotAllowed(Conflict):
    type = problem_type("service-recovery-not-allowed")


class SatisfactionNotInvited(Conflict):
    type = problem_type("satisfaction-not-invited")


class SatisfactionAlreadyGiven(Conflict):
    type = problem_type("satisfaction-already-given")


def submit_feedback(principal: Principal, payload: Mapping[str, Any]) -> Feedback:
    """Store a resident's feedback and, for a dissatisfaction, its complaint case."""
    with write():
        ward_code, authority_code = _attribute(payload)
        point = payload.get("location") or {}
        now = utcnow()  # the case is logged the moment the feedback is received
        feedback = Feedback(
            created_at=now,
            reference=next_reference(),
            device_id=principal.id,
            kind=payload["kind"],
            text=payload["text"],
            incident_date=payload.get("incident_date"),
            lat=point.get("lat"),
            lon=point.get("lon"),
            ward_code=ward_code,
            local_authority_code=authority_code,
            officer_identifier=payload.get("officer_identifier"),
            contact=new_contact(principal.id, payload.get("contact")),
            possible_emergency=possible_emergency(payload["text"]),
        )
        if feedback.kind == FeedbackKind.DISSATISFACTION:
            feedback.complaint = ComplaintCase(state=ComplaintState.LOGGED, logged_at=now)
        db.session.add(feedback)
        db.session.flush()  # the notification names the feedback's id
        complaint = feedback.kind == FeedbackKind.DISSATISFACTION
        notify("complaint.logged" if complaint else "feedback.received", feedback=feedback, now=now)
    return feedback


def list_feedback(principal: Principal, page: int, page_size: int) -> PageResult:
    """The resident's own feedback, newest first, one page of it."""
    statement = _own(principal).order_by(Feedback.created_at.desc(), Feedback.id.desc())
    return paginate(statement, page, page_size)


def get_feedback(principal: Principal, feedback_id: uuid.UUID) -> Feedback:
    """One of the resident's own feedback; anyone else's is answered as missing."""
    return _own_feedback(principal, feedback_id)


def answer_satisfaction(
    principal: Principal, feedback_id: uuid.UUID, payload: Mapping[str, Any]
) -> Feedback:
    """The complainant says once how satisfied they are (1-5) with their closed complaint."""
    with write():
        feedback = _own_feedback(principal, feedback_id)
        case = feedback.complaint
        if case is None:
            raise SatisfactionNotInvited(
                "This feedback is not a complaint: there is nothing to rate."
            )
        if case.state != ComplaintState.CLOSED:
            raise SatisfactionNotInvited(
                f"Your complaint is {case.state}; you can rate it once it is closed.",
                state=str(case.state),
            )
        # Conditional on no answer yet, so two answers racing each other store exactly one.
        answer = {"satisfaction_score": payload["score"], "satisfaction_at": utcnow()}
        answered = db.session.execute(
            sa.update(ComplaintCase)
            .where(
                ComplaintCase.id == case.id,
                ComplaintCase.state == ComplaintState.CLOSED,
                ComplaintCase.satisfaction_score.is_(None),
            )
            .values(satisfaction_comment=payload.get("comment") or None, **answer)
            .execution_options(synchronize_session=False)
        )
        if answered.rowcount == 1:  # a bulk UPDATE: the rollups are told, no flush sees it
            bulk_changed(ComplaintCase, case, answer)
        else:
            raise SatisfactionAlreadyGiven(
                "You have already said how satisfied you are with this complaint."
            )
        db.session.refresh(case)
    return feedback


def _own_feedback(principal: Principal, feedback_id: uuid.UUID) -> Feedback:
    feedback = db.session.scalar(_own(principal).where(Feedback.id == feedback_id))
    if feedback is None:
        raise FeedbackNotFound("There is no feedback of yours with that id.")
    return feedback


def _own(principal: Principal) -> sa.Select[tuple[Feedback]]:
    return (
        sa.select(Feedback)
        .where(Feedback.device_id == principal.id)
        .options(
            selectinload(Feedback.contact),
            selectinload(Feedback.complaint).selectinload(ComplaintCase.timeline),
        )
    )


def _attribute(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ward code, local authority code) from the location or the area code given, if any."""
    if payload.get("location") is not None:
        found = locate_point(payload["location"])
        return found.ward_code, found.local_authority_code
    if payload.get("area") is not None:
        area = area_by_code(payload["area"])
        return area.ward_code, area.local_authority_code
    return None, None


# --- the Resolution Team's complaint cases ----------------------------------------------------


@dataclass(frozen=True)
class CaseNote:
    """An internal note with its author (None once the author's account is gone)."""

    id: uuid.UUID
    text: str
    at: datetime
    author: User | None


@dataclass(frozen=True)
class ComplaintDetail:
    """A complaint case with what lives beside it: internal notes and the audit trail."""

    case: ComplaintCase
    notes: list[CaseNote]
    audit: list[AuditEvent]

    @property
    def notifications(self) -> list[SentRecord]:
        """What the complainant was told about this case, per channel."""
        return sent_to_resident(feedback_id=self.case.feedback_id)

    def __getattr__(self, name: str) -> Any:
        if name == "case":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.case, name)


def list_complaints(principal: Principal, query: Mapping[str, Any]) -> PageResult:
    """Complaint cases, oldest logged first, filtered by state, assignee, allegation group,
    area, London dates of logging and whether first contact is still awaited."""
    statement = (
        sa.select(ComplaintCase)
        .join(ComplaintCase.feedback)
        .options(
            contains_eager(ComplaintCase.feedback),
            selectinload(ComplaintCase.assignee),
            selectinload(ComplaintCase.allegations),
        )
        .order_by(ComplaintCase.logged_at, ComplaintCase.id)
    )
    if query.get("state"):
        statement = statement.where(ComplaintCase.state.in_(query["state"]))
    assignee = query.get("assignee")
    if assignee == "me":
        statement = statement.where(ComplaintCase.assignee_id == principal.id)
    elif assignee == "none":
        statement = statement.where(ComplaintCase.assignee_id.is_(None))
    elif assignee is not None:
        statement = statement.where(ComplaintCase.assignee_id == assignee)
    if query.get("allegation_group"):
        statement = statement.where(
            sa.exists().where(
                Allegation.case_id == ComplaintCase.id,
                Allegation.group == query["allegation_group"],
            )
        )
    if query.get("ward"):
        statement = statement.where(Feedback.ward_code == query["ward"])
    if query.get("local_authority"):
        statement = statement.where(Feedback.local_authority_code == query["local_authority"])
    if query.get("from_date"):
        statement = statement.where(ComplaintCase.logged_at >= local_day_start(query["from_date"]))
    if query.get("to_date"):
        statement = statement.where(ComplaintCase.logged_at < local_day_end(query["to_date"]))
    awaiting = query.get("awaiting_first_contact")
    if awaiting is not None:
        contact = ComplaintCase.first_contact_at
        statement = statement.where(contact.is_(None) if awaiting else contact.is_not(None))
    return paginate(statement, query["page"], query["page_size"])


def get_complaint(case_id: uuid.UUID) -> ComplaintDetail:
    """One complaint case in full: the feedback, allegations, actions, notes, timeline, audit."""
    return _detail(_case(case_id))


def assign_complaint(
    principal: Principal, case_id: uuid.UUID, assignee_id: uuid.UUID | None
) -> ComplaintDetail:
    """Give the case to an active resolution or admin user, or to nobody."""
    with write():
        case = _case(case_id, lock=True)
        before = case.assignee_id
        case.assignee = assignee(assignee_id, CASE_HOLDER_ROLES)
        record(
            Actor.of(principal),
            "complaint.assign",
            "complaint",
            case.id,
            before={"assignee_id": before},
            after={"assignee_id": assignee_id},
        )
    return _detail(case)


def move_complaint(
    principal: Principal, case_id: uuid.UUID, payload: Mapping[str, Any]
) -> ComplaintDetail:
    """Change the case's state through the workflow: first contact (when it happened),
    escalation (with its reason), closing (with its outcome)."""
    with write():
        case = _case(case_id, lock=True)
        to = payload["to"]
        details: dict[str, Any] = {}
        contacted_at = None
        if to == ComplaintState.CONTACTED:
            contacted_at = payload.get("contacted_at") or utcnow()
            if contacted_at < case.logged_at:
                raise InvalidFirstContact(
                    "First contact cannot be before the complaint was logged "
                    f"({case.logged_at.isoformat()}).",
                    errors={"contacted_at": ["Must not be before the case was logged."]},
                )
            details["first_contact_at"] = contacted_at
        elif to == ComplaintState.ESCALATED:
            details["reason"] = payload["reason"]
        complaint_transition(
            case,
            to,
            Actor.of(principal),
            outcome=payload.get("outcome"),
            public_note=payload.get("public_note"),
            internal_note=payload.get("internal_note"),
            at=contacted_at,
            details=details or None,
        )
    return _detail(case)


def add_service_recovery_action(
    principal: Principal, case_id: uuid.UUID, payload: Mapping[str, Any]
) -> ComplaintDetail:
    """Record what was done to put things right; the first one moves a contacted case into
    service recovery."""
    with write():
        case = _case(case_id, lock=True)
        if case.state not in SERVICE_RECOVERY_STATES:
            raise ServiceRecoveryNotAllowed(
                f"A complaint case that is {case.state} takes no service-recovery actions; "
                "contact the complainant first.",
                state=str(case.state),
            )
        action = ServiceRecoveryAction(
            id=uuid.uuid4(),
            kind=payload["kind"],
            note=payload.get("note"),
            at=utcnow(),
            actor_id=principal.id,
        )
        case.actions.append(action)
        if case.first_action_at is None:
            case.first_action_at = action.at
        summary = {"action_id": action.id, "kind": action.kind, "note": action.note}
        actor = Actor.of(principal)
        if case.state == ComplaintState.CONTACTED:
            complaint_transition(
                case, ComplaintState.SERVICE_RECOVERY, actor, details={"action": summary}
            )
        else:
            record(actor, "complaint.action", "complaint", case.id, after=summary)
    return _detail(case)


def add_allegation(
    principal: Principal, case_id: uuid.UUID, payload: Mapping[str, Any]
) -> ComplaintDetail:
    """Add one allegation (a group of the PCC report and a free code) to an open case."""
    with write():
        case = _case(case_id, lock=True)
        if case.state == ComplaintState.CLOSED:
            raise ComplaintClosed("This complaint case is closed; it takes no more allegations.")
        allegation = Allegation(
            id=uuid.uuid4(),
            group=payload["group"],
            code=payload["code"],
            description=payload.get("description"),
            created_at=utcnow(),
            created_by_id=principal.id,
        )
        case.allegations.append(allegation)
        record(
            Actor.of(principal),
            "complaint.allegation",
            "complaint",
            case.id,
            after={
                "allegation_id": allegation.id,
                "group": allegation.group,
                "code": allegation.code,
                "description": allegation.description,
            },
        )
    return _detail(case)


def add_complaint_note(
    principal: Principal, case_id: uuid.UUID, payload: Mapping[str, Any]
) -> ComplaintDetail:
    """Keep an internal note on the case (never shown to the complainant)."""
    with write():
        case = _case(case_id, lock=True)
        note = InternalNote(
            id=uuid.uuid4(),
            complaint_case_id=case.id,
            author_id=principal.id,
            text=payload["text"],
            at=utcnow(),
        )
        db.session.add(note)
        record(
            Actor.of(principal),
            "complaint.note",
            "complaint",
            case.id,
            after={"note_id": note.id, "text": note.text},
        )
    return _detail(case)


def _case(case_id: uuid.UUID, *, lock: bool = False) -> ComplaintCase:
    statement = (
        sa.select(ComplaintCase)
        .where(ComplaintCase.id == case_id)
        .options(
            selectinload(ComplaintCase.feedback).selectinload(Feedback.contact),
            selectinload(ComplaintCase.assignee),
            selectinload(ComplaintCase.allegations),
            selectinload(ComplaintCase.actions),
            selectinload(ComplaintCase.timeline),
        )
    )
    if lock:  # two changes of one case apply one after the other (PostgreSQL)
        statement = statement.with_for_update(of=ComplaintCase).execution_options(
            populate_existing=True
        )
    case = db.session.scalar(statement)
    if case is None:
        raise ComplaintNotFound("There is no complaint case with that id.")
    return case


def _detail(case: ComplaintCase) -> ComplaintDetail:
    notes = db.session.execute(
        sa.select(InternalNote, User)
        .outerjoin(User, User.id == InternalNote.author_id)
        .where(InternalNote.complaint_case_id == case.id)
        .order_by(InternalNote.at, InternalNote.id)
    )
    return ComplaintDetail(
        case,
        [CaseNote(note.id, note.text, note.at, author) for note, author in notes],
        trail("complaint", case.id),
    )
