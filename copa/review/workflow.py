"""Status changes in one place (STYLE.md 7): the tables of allowed transitions for reports,
complaint cases, compliments and suggestions, and the single function for each that applies
one, writing its timeline row and its audit event in the caller's transaction. Nothing else
assigns a status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from copa.audit.service import Actor, record
from copa.db import utcnow
from copa.feedback.models import (
    ComplaintCase,
    ComplaintState,
    ComplaintTimelineEntry,
    Feedback,
    FeedbackKind,
    FeedbackState,
)
from copa.notifications.service import notify
from copa.reports.models import Report, ReportStatus, TimelineEntry
from copa.web.problems import Conflict, problem_type

S = ReportStatus
C = ComplaintState
F = FeedbackState

# DOMAIN.md "Report lifecycle": received -> routed -> acknowledged -> in_progress ->
# resolved | closed; side exits duplicate and rejected; a partner's "not our responsibility"
# (or staff pulling it back) sends it to received for re-routing. X -> routed again is a
# re-route to another destination.
REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.ROUTED, S.DUPLICATE, S.REJECTED, S.CLOSED, S.RESOLVED}),
    S.ROUTED: frozenset(
        {S.ACKNOWLEDGED, S.IN_PROGRESS, S.RESOLVED, S.RECEIVED, S.ROUTED, S.DUPLICATE, S.CLOSED}
    ),
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.RECEIVED, S.ROUTED, S.CLOSED}),
    # in_progress -> in_progress: a partner's further progress note.
    S.IN_PROGRESS: frozenset({S.IN_PROGRESS, S.RESOLVED, S.RECEIVED, S.ROUTED, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset(),
    S.DUPLICATE: frozenset({S.RECEIVED}),
    S.REJECTED: frozenset({S.RECEIVED}),
}

# COPA's own outcome codes (FOI 6-23-24), recorded with a staff decision; routing records a
# provisional one (routing/service.py provisional_outcome) and a partner's resolution its own.
REPORT_OUTCOMES = (
    "passed_to_force_control_room",
    "resolved_by_opcc",
    "with_opcc",
    "passed_to_resolution_team",
    "referred_to_partner",
    "resolved_by_partner",
    "signposted",
    "duplicate",
    "no_further_action",
)

# DOMAIN.md "Feedback and complaints": logged -> contacted -> service_recovery ->
# resolved | escalated -> closed. A matter serious enough for the force's Directorate of
# Standards and Ethics (Schedule 3) may be escalated as soon as it is logged or contacted.
COMPLAINT_TRANSITIONS: dict[str, frozenset[str]] = {
    C.LOGGED: frozenset({C.CONTACTED, C.ESCALATED}),
    C.CONTACTED: frozenset({C.SERVICE_RECOVERY, C.RESOLVED, C.ESCALATED}),
    C.SERVICE_RECOVERY: frozenset({C.RESOLVED, C.ESCALATED}),
    C.RESOLVED: frozenset({C.CLOSED}),
    C.ESCALATED: frozenset({C.CLOSED}),
    C.CLOSED: frozenset(),
}

# How a complaint case ended, recorded when it closes.
COMPLAINT_OUTCOMES = (
    "service_recovered",  # put right to the complainant's satisfaction
    "explanation_given",
    "apology_given",
    "signposted",
    "referred_to_professional_standards",  # Schedule 3, with the force's DSE
    "withdrawn",  # the complainant withdrew it
    "no_further_action",
)


# DOMAIN.md "Feedback and complaints": a compliment is passed on to whoever it praises, a
# suggestion is considered and answered; then each is closed. (An expression of dissatisfaction
# follows its complaint case instead.)
FEEDBACK_TRANSITIONS: dict[str, frozenset[str]] = {
    F.RECEIVED: frozenset({F.PASSED_ON, F.ANSWERED, F.CLOSED}),
    F.PASSED_ON: frozenset({F.CLOSED}),
    F.ANSWERED: frozenset({F.CLOSED}),
    F.CLOSED: frozenset(),
}
# The handling each kind of feedback may have.
_FEEDBACK_STEPS: dict[str, frozenset[str]] = {
    FeedbackKind.COMPLIMENT: frozenset({F.PASSED_ON, F.CLOSED}),
    FeedbackKind.SUGGESTION: frozenset({F.ANSWERED, F.CLOSED}),
    FeedbackKind.DISSATISFACTION: frozenset(),
}


class InvalidTransition(Conflict):
    type = problem_type("invalid-transition")


def transition(
    report: Report,
    to: str,
    actor: Actor,
    *,
    outcome: str | None = None,
    public_note: str | None = None,
    internal_note: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    """Move a report to ``to``: one timeline row and (for staff and partners) one audit event,
    in the caller's transaction. A move the table does not allow is a 409 naming those it does."""
    before = report.status
    _check(REPORT_TRANSITIONS, "report", before, to)
    entry = TimelineEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        from_status=before,
        to_status=to,
        outcome=outcome,
        public_note=public_note,
        internal_note=internal_note,
    )
    report.status = to
    if outcome is not None or to == S.RECEIVED:
        # Back to received is undecided again: a provisional outcome of routing goes with it.
        report.outcome = outcome
    report.timeline.append(entry)
    event = report_event(report, before, to, actor)
    if event is not None:
        notify(event, report=report, note=public_note, outcome=report.outcome)
    record(
        actor,
        "report.transition",
        "report",
        report.id,
        before={"status": before},
        after=_summary(to, outcome, public_note, internal_note, details),
    )
    return entry


def complaint_transition(
    case: ComplaintCase,
    to: str,
    actor: Actor,
    *,
    outcome: str | None = None,
    public_note: str | None = None,
    internal_note: str | None = None,
    at: datetime | None = None,
    details: Mapping[str, Any] | None = None,
) -> ComplaintTimelineEntry:
    """Move a complaint case to ``to``, keeping the times the published measures need (first
    contact, escalation, closing); one timeline row and one audit event, like reports."""
    before = case.state
    _check(COMPLAINT_TRANSITIONS, "complaint case", before, to)
    now = utcnow()
    entry = ComplaintTimelineEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        from_state=before,
        to_state=to,
        outcome=outcome,
        public_note=public_note,
        internal_note=internal_note,
        at=now,
    )
    if to == C.CONTACTED and case.first_contact_at is None:
        case.first_contact_at = at or now
    elif to == C.ESCALATED:
        case.escalated_at = now
        case.escalation_reason = (details or {}).get("reason")
    elif to == C.CLOSED:
        case.closed_at = now
        case.outcome = outcome
    case.state = to
    case.timeline.append(entry)
    feedback = case.feedback
    notify(f"complaint.{to}", feedback=feedback, note=public_note, outcome=case.outcome)
    if to == C.CLOSED:  # asked once, when the case closes (DOMAIN.md)
        notify("satisfaction.invited", feedback=feedback)
    record(
        actor,
        "complaint.transition",
        "complaint",
        case.id,
        before={"state": before},
        after=_summary(to, outcome, public_note, internal_note, details, key="state"),
    )
    return entry


def feedback_transition(
    feedback: Feedback,
    to: str,
    actor: Actor,
    *,
    passed_to: str | None = None,
    response: str | None = None,
    public_note: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Move a compliment or suggestion to ``to``: passed on (to whom, when), answered (the
    response) or closed; one audit event, and the resident is told it was passed on or
    answered, in the caller's transaction."""
    before = feedback.state
    if to not in _FEEDBACK_STEPS.get(feedback.kind, frozenset()):
        raise InvalidTransition(
            f"A {feedback.kind} cannot become {to}."
            + (
                " It follows its complaint case."
                if feedback.kind == FeedbackKind.DISSATISFACTION
                else ""
            ),
            allowed=[],
        )
    _check(FEEDBACK_TRANSITIONS, feedback.kind, before, to)
    changes: dict[str, Any] = {}
    if to == F.PASSED_ON:
        feedback.passed_to = changes["passed_to"] = passed_to
    elif to == F.ANSWERED:
        feedback.response = changes["response"] = response
    if to in (F.PASSED_ON, F.ANSWERED):
        feedback.handled_at = utcnow()
    feedback.state = to
    if to == F.PASSED_ON:
        notify("compliment.passed_on", feedback=feedback, destination=passed_to, note=public_note)
    elif to == F.ANSWERED:
        notify("suggestion.answered", feedback=feedback, note=response)
    record(
        actor,
        "feedback.transition",
        "feedback",
        feedback.id,
        before={"state": before},
        after=_summary(to, None, public_note, None, {**changes, **(details or {})}, key="state"),
    )


def report_event(report: Report, before: str, to: str, actor: Actor) -> str | None:
    """What the resident is told of a move from ``before`` to ``to`` (notifications catalogue
    event), or None when it is nothing they need to hear."""
    if to == S.ROUTED:
        # Routing as the report is submitted is told by report.received (reports/service.py).
        return None if actor.kind == "system" else "report.routed"
    if to == S.RESOLVED:
        return "question.answered" if report.category.code == "question" else "report.resolved"
    if to == S.RECEIVED:
        if actor.kind == "partner":
            return "report.not_theirs"
        # Staff pulling a report back to route it elsewhere: told when it goes somewhere.
        return "report.reopened" if before in (S.DUPLICATE, S.REJECTED) else None
    if to == S.IN_PROGRESS and before == S.RESOLVED:
        return "report.reopened"
    return {
        S.ACKNOWLEDGED: "report.acknowledged",
        S.IN_PROGRESS: "report.in_progress",
        S.CLOSED: "report.closed",
        S.DUPLICATE: "report.duplicate",
        S.REJECTED: "report.rejected",
    }.get(to)


def allowed_report_transitions(status: str) -> list[str]:
    return sorted(REPORT_TRANSITIONS.get(status, frozenset()))


def allowed_complaint_transitions(state: str) -> list[str]:
    return sorted(COMPLAINT_TRANSITIONS.get(state, frozenset()))


def allowed_feedback_transitions(feedback: Feedback) -> list[str]:
    steps = _FEEDBACK_STEPS.get(feedback.kind, frozenset())
    return sorted(steps & FEEDBACK_TRANSITIONS.get(feedback.state, frozenset()))


def _check(table: Mapping[str, frozenset[str]], what: str, current: str, to: str) -> None:
    allowed = table.get(current, frozenset())
    if to not in allowed:
        raise InvalidTransition(
            f"A {what} that is {current} cannot become {to}."
            + (f" It can become: {', '.join(sorted(allowed))}." if allowed else ""),
            allowed=sorted(allowed),
        )


def _summary(
    to: str,
    outcome: str | None,
    public_note: str | None,
    internal_note: str | None,
    details: Mapping[str, Any] | None,
    *,
    key: str = "status",
) -> dict[str, Any]:
    summary: dict[str, Any] = {key: to}
    for name, value in (
        ("outcome", outcome),
        ("public_note", public_note),
        ("internal_note", internal_note),
    ):
        if value is not None:
            summary[name] = value
    return {**summary, **(details or {})}
