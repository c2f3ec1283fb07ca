"""Use cases of OPCC staff review, and the admins' reading of the audit log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from copa.audit.models import AuditEvent, InternalNote
from copa.audit.service import Actor, record, trail
from copa.auth.models import User
from copa.auth.service import assignable, assignee
from copa.db import db, utcnow, write
from copa.feedback.models import Feedback, FeedbackState
from copa.feedback.service import FeedbackNotFound
from copa.feedback.workflow import feedback_transition
from copa.messages.service import staff_messages
from copa.notifications.service import sent_to_resident
from copa.open311.models import Open311Request
from copa.outbox.models import OutboxMessage
from copa.periods import local_day_end, local_day_start
from copa.reports.models import Photo, Report, ReportStatus
from copa.reports.photos import PhotoFile, PhotoNotFound, photo_file
from copa.reports.service import ReportNotFound, locked_report
from copa.reports.workflow import allowed_report_transitions, transition
from copa.routing.models import Channel, Partner, Referral, ReferralState
from copa.routing.service import (
    UNROUTED_KIND,
    UNROUTED_NAME,
    enqueue_referral,
    provisional_outcome,
    refer,
)
from copa.web.access import Principal, Role
from copa.web.models import IdempotencyKey
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Unprocessable, problem_type


def list_audit(query: Mapping[str, Any]) -> PageResult:
    """The audit log, newest first, filtered by actor, action (or an action prefix ending in a
    dot), target and London date range."""
    statement = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
    for name in ("actor_id", "actor_kind", "target_kind", "target_id"):
        if query.get(name) is not None:
            statement = statement.where(getattr(AuditEvent, name) == query[name])
    action = query.get("action")
    if action:
        statement = statement.where(
            AuditEvent.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEvent.action == action
        )
    if query.get("from_date"):
        statement = statement.where(AuditEvent.at >= local_day_start(query["from_date"]))
    if query.get("to_date"):
        statement = statement.where(AuditEvent.at < local_day_end(query["to_date"]))
    return paginate(statement, query["page"], query["page_size"])


# --- the staff review of reports and feedback -------------------------------------------------

REFERRAL_WITHDRAWN = "referral.withdrawn"  # the outbox event telling a partner to stop
_SETTLED_REFERRAL = (
    ReferralState.RESOLVED,
    ReferralState.NOT_OUR_RESPONSIBILITY,
    ReferralState.WITHDRAWN,
)
# Open311 has no way to withdraw a request: its partners are not told.
_WITHDRAWAL_CHANNELS = frozenset({Channel.WEBHOOK, Channel.EMAIL})
_ASSIGNABLE_ROLES = frozenset({Role.REVIEWER, Role.ADMIN})


class PartnerNotAvailable(Unprocessable):
    type = problem_type("partner-not-available")


class InvalidDuplicate(Unprocessable):
    type = problem_type("invalid-duplicate")


class _Shown:
    """An object as a response shows it: its own attributes, with some added or replaced."""

    def __init__(self, base: object, **shown: Any) -> None:
        self._base = base
        self.__dict__.update(shown)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


def staff_report(principal: Principal, report_id: uuid.UUID) -> _Shown:
    """Everything about one report for staff: exact location, contact, timeline, notes,
    referrals with their deliveries, the moves allowed next, and its audit trail."""
    report = db.session.scalar(
        sa.select(Report)
        .where(Report.id == report_id)
        .options(
            selectinload(Report.timeline),
            selectinload(Report.photos),
            selectinload(Report.videos),
            selectinload(Report.contact),
            selectinload(Report.assignee),
            selectinload(Report.duplicate_of),
        )
        # Fresh from the database, whatever this session held (e.g. a photo just redacted).
        .execution_options(populate_existing=True)
    )
    if report is None:
        raise ReportNotFound("No such report.")

    notes = list(
        db.session.scalars(
            sa.select(InternalNote)
            .where(InternalNote.report_id == report.id)
            .order_by(InternalNote.at, InternalNote.id)
        )
    )
    authors = _users({note.author_id for note in notes if note.author_id is not None})

    referrals = list(
        db.session.scalars(
            sa.select(Referral)
            .where(Referral.report_id == report.id)
            .order_by(Referral.sent_at, Referral.id)
        )
    )
    messages: dict[uuid.UUID, list[OutboxMessage]] = {referral.id: [] for referral in referrals}
    for message in db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.referral_id.in_(list(messages)))
        .options(selectinload(OutboxMessage.attempt_log), selectinload(OutboxMessage.partner))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ):
        messages[message.referral_id].append(message)

    admin = Role.ADMIN in principal.roles
    audit = [
        # What a redaction removed stays in the record, for admins' eyes only.
        event
        if admin or event.action != "report.redact"
        else _Shown(event, before=None, after=None)
        for event in trail("report", report.id)
    ]
    return _Shown(
        report,
        open311=db.session.scalar(
            sa.select(Open311Request)
            .where(Open311Request.report_id == report.id)
            .options(selectinload(Open311Request.client))
        ),
        notes=[_Shown(note, author=authors.get(note.author_id)) for note in notes],
        referrals=[_Shown(referral, messages=messages[referral.id]) for referral in referrals],
        resident_messages=staff_messages(report_id=report.id),
        notifications=sent_to_resident(report_id=report.id),
        allowed_transitions=allowed_report_transitions(report.status),
        audit=audit,
    )


def _users(ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def staff_report_photo(
    principal: Principal, report_id: uuid.UUID, photo_id: uuid.UUID
) -> PhotoFile:
    """The bytes of a photo of a report; a redacted one only for an admin (404 otherwise)."""
    photo = db.session.scalar(
        sa.select(Photo).where(Photo.id == photo_id, Photo.report_id == report_id)
    )
    if photo is None or (photo.redacted_at is not None and Role.ADMIN not in principal.roles):
        raise PhotoNotFound("No such photo.")
    return photo_file(photo)


def transition_report(
    principal: Principal, report_id: uuid.UUID, payload: Mapping[str, Any]
) -> _Shown:
    """A staff decision on a report, through the workflow: route it (again), mark it a
    duplicate, pull it back for re-routing, reject, resolve or close it.

    Open referrals are withdrawn when it is routed elsewhere, marked a duplicate, pulled back
    or rejected. One timeline row and one audit event, whatever else happens.
    """
    with write():
        report = locked_report(report_id)
        actor = Actor.of(principal)
        to = payload["to"]
        # A move the workflow does not allow is its 409 (naming those it does), before anything
        # else is looked at or changed.
        if to not in allowed_report_transitions(report.status):
            transition(report, to, actor)
        notes = {
            "outcome": payload.get("outcome"),
            "public_note": payload.get("public_note"),
            "internal_note": payload.get("internal_note"),
        }
        details: dict[str, Any] = {}

        if to == ReportStatus.ROUTED:
            partner = _active_partner(payload["partner_id"])
            withdrawn = _withdraw_open_referrals(report)
            if notes["outcome"] is None:
                notes["outcome"] = provisional_outcome(partner)
            if withdrawn:
                details["withdrawn_referral_ids"] = withdrawn
            refer(report, partner, actor, details=details or None, **notes)
        else:
            if to == ReportStatus.DUPLICATE:
                original = _original_of(report, payload["duplicate_of"])
                report.duplicate_of_id = original.id
                details["duplicate_of"] = str(original.id)
                notes["outcome"] = notes["outcome"] or "duplicate"
            elif report.status == ReportStatus.DUPLICATE:  # no longer a duplicate of anything
                report.duplicate_of_id = None
            if to in (ReportStatus.DUPLICATE, ReportStatus.RECEIVED, ReportStatus.REJECTED):
                withdrawn = _withdraw_open_referrals(report)
                if withdrawn:
                    details["withdrawn_referral_ids"] = withdrawn
            if to == ReportStatus.RECEIVED:  # waits for staff to route it again
                report.unrouted = True
                report.destination_kind, report.destination_name = UNROUTED_KIND, UNROUTED_NAME
            transition(report, to, actor, details=details or None, **notes)
    return staff_report(principal, report_id)


def report_id_by_reference(reference: str) -> uuid.UUID | None:
    """The id of the report with this reference (e.g. COPA-26-000003), or None."""
    return db.session.scalar(sa.select(Report.id).where(Report.reference == reference))


def _active_partner(partner_id: uuid.UUID) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None or not partner.active:
        raise PartnerNotAvailable(
            "Reports can only be routed to an active partner.",
            errors={"partner_id": ["No active partner with this id."]},
        )
    return partner


def _original_of(report: Report, duplicate_of: uuid.UUID) -> Report:
    """The report ``duplicate_of`` names, or the original it is itself a duplicate of."""
    original = db.session.get(Report, duplicate_of)
    seen: set[uuid.UUID] = set()
    while (
        original is not None
        and original.status == ReportStatus.DUPLICATE
        and original.duplicate_of_id is not None
        and original.id not in seen
    ):
        seen.add(original.id)
        original = db.session.get(Report, original.duplicate_of_id)
    if original is None:
        raise InvalidDuplicate(
            "There is no such report to be a duplicate of.",
            errors={"duplicate_of": ["No report with this id."]},
        )
    if original.id == report.id:
        raise InvalidDuplicate(
            "A report cannot be a duplicate of itself.",
            errors={"duplicate_of": ["Must be another report."]},
        )
    return original


def _withdraw_open_referrals(report: Report) -> list[str]:
    """Withdraw the report's open referrals, telling webhook and email partners (no commit);
    the ids of those withdrawn."""
    referrals = db.session.scalars(
        sa.select(Referral)
        .where(
            Referral.report_id == report.id,
            Referral.state.not_in([str(state) for state in _SETTLED_REFERRAL]),
        )
        .order_by(Referral.sent_at, Referral.id)
        .with_for_update(of=Referral)  # not while the partner is updating it
    ).all()
    for referral in referrals:
        referral.state = ReferralState.WITHDRAWN
        if referral.partner.channel in _WITHDRAWAL_CHANNELS:
            enqueue_referral(referral, REFERRAL_WITHDRAWN)
    return [str(referral.id) for referral in referrals]


def assign_report(
    principal: Principal, report_id: uuid.UUID, assignee_id: uuid.UUID | None
) -> _Shown:
    """Give a report to an active reviewer or admin, or to nobody (``None``)."""
    with write():
        report = locked_report(report_id)
        before = report.assignee_id
        report.assignee = assignee(assignee_id, _ASSIGNABLE_ROLES)
        record(
            Actor.of(principal),
            "report.assign",
            "report",
            report.id,
            before={"assignee_id": before},
            after={"assignee_id": assignee_id},
        )
    return staff_report(principal, report_id)


def report_assignees() -> list[User]:
    """Who a report may be given to: active reviewers and admins, by name."""
    return assignable(_ASSIGNABLE_ROLES)


def add_report_note(principal: Principal, report_id: uuid.UUID, text: str) -> _Shown:
    """Keep an internal note on a report (never shown outside the OPCC)."""
    with write():
        if db.session.scalar(sa.select(Report.id).where(Report.id == report_id)) is None:
            raise ReportNotFound("No such report.")
        note = InternalNote(
            id=uuid.uuid4(), report_id=report_id, author_id=principal.id, text=text, at=utcnow()
        )
        db.session.add(note)
        record(
            Actor.of(principal),
            "report.note",
            "report",
            report_id,
            after={"note_id": note.id, "text": text},
        )
    return _Shown(note, author=db.session.get(User, principal.id))


def redact_report(principal: Principal, report_id: uuid.UUID, payload: Mapping[str, Any]) -> _Shown:
    """Replace a report's description, or withdraw one of its photos from every view.

    The original stays only in the audit event, which admins alone read in full; a redacted
    photo's bytes are kept for them too.
    """
    with write():
        report = locked_report(report_id)
        reason = payload["reason"]
        if "description" in payload:
            before: dict[str, Any] = {"description": report.description}
            report.description = payload["description"]
            _redact_stored_answers(report)
            after = {"description": payload["description"], "reason": reason}
        else:
            photo = db.session.scalar(
                sa.select(Photo).where(
                    Photo.id == payload["photo_id"],
                    Photo.report_id == report.id,
                    Photo.redacted_at.is_(None),
                )
            )
            if photo is None:
                raise PhotoNotFound("No such photo.")
            photo.redacted_at = utcnow()
            before = {
                "photo_id": photo.id,
                "url": url_for("staff.StaffReportPhoto", report_id=report.id, photo_id=photo.id),
                "content_type": photo.content_type,
                "width": photo.width,
                "height": photo.height,
            }
            after = {"reason": reason}
        record(
            Actor.of(principal), "report.redact", "report", report.id, before=before, after=after
        )
    return staff_report(principal, report_id)


def _redact_stored_answers(report: Report) -> None:
    """The answer kept for a retried submission (Idempotency-Key) must not give the original
    description back: it now says what the report says (part of the caller's transaction)."""
    if report.device_id is None:
        return
    stored = db.session.scalars(
        sa.select(IdempotencyKey).where(
            # The resident's stored answers that name the report; only its creation's has it as
            # its "id" (checked below), whichever path the report came through.
            IdempotencyKey.principal == f"device:{report.device_id}",
            IdempotencyKey.response_body.contains(str(report.id), autoescape=True),
        )
    )
    for row in stored:
        try:
            answer = json.loads(row.response_body or "")
        except ValueError:
            continue
        if isinstance(answer, dict) and answer.get("id") == str(report.id):
            answer["description"] = report.description
            row.response_body = json.dumps(answer)


def staff_feedback(feedback_id: uuid.UUID) -> _Shown:
    """One resident's feedback for staff, with its contact, complaint case, conversation and
    audit trail."""
    feedback = db.session.scalar(
        sa.select(Feedback)
        .where(Feedback.id == feedback_id)
        .options(selectinload(Feedback.contact), selectinload(Feedback.complaint))
    )
    if feedback is None:
        raise FeedbackNotFound("No such feedback.")
    return _Shown(feedback, audit=trail("feedback", feedback.id))


def pass_on_compliment(
    principal: Principal, feedback_id: uuid.UUID, payload: Mapping[str, Any]
) -> _Shown:
    """Pass a compliment on to whoever it praises, and close it; the resident is told to whom.
    Anything but a compliment still waiting is a 409."""
    with write():
        feedback = _locked_feedback(feedback_id)
        actor = Actor.of(principal)
        feedback_transition(
            feedback,
            FeedbackState.PASSED_ON,
            actor,
            passed_to=payload["passed_to"],
            public_note=payload.get("public_note"),
        )
        feedback_transition(feedback, FeedbackState.CLOSED, actor)
    return staff_feedback(feedback_id)


def answer_suggestion(
    principal: Principal, feedback_id: uuid.UUID, payload: Mapping[str, Any]
) -> _Shown:
    """Answer a suggestion, and close it; the resident reads the response. Anything but a
    suggestion still waiting is a 409."""
    with write():
        feedback = _locked_feedback(feedback_id)
        actor = Actor.of(principal)
        feedback_transition(feedback, FeedbackState.ANSWERED, actor, response=payload["response"])
        feedback_transition(feedback, FeedbackState.CLOSED, actor)
    return staff_feedback(feedback_id)


def close_feedback(
    principal: Principal, feedback_id: uuid.UUID, payload: Mapping[str, Any]
) -> _Shown:
    """Close a compliment or suggestion with nothing to pass on or answer (a duplicate, a
    message with no one to praise); the reason is kept in the audit log for staff, the resident
    is told nothing more. Anything but a compliment or suggestion still open is a 409."""
    with write():
        feedback = _locked_feedback(feedback_id)
        feedback_transition(
            feedback,
            FeedbackState.CLOSED,
            Actor.of(principal),
            details={"internal_note": payload["reason"]},
        )
    return staff_feedback(feedback_id)


def _locked_feedback(feedback_id: uuid.UUID) -> Feedback:
    """The feedback, its row locked: two staff handling it apply one after the other."""
    feedback = db.session.scalar(
        sa.select(Feedback)
        .where(Feedback.id == feedback_id)
        .with_for_update(of=Feedback)
        .execution_options(populate_existing=True)
    )
    if feedback is None:
        raise FeedbackNotFound("No such feedback.")
    return feedback
