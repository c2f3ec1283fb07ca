"""Complaint case and feedback status changes in one place (STYLE.md 7): the tables of allowed
transitions for complaint cases, compliments and suggestions, the outcomes a case closes with,
and the single function for each that applies a move, writing its timeline row (complaint
cases) and its audit event in the caller's transaction. Nothing else assigns a state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from copa.audit.service import Actor, record
from copa.audit.transitions import InvalidTransition, check_transition, transition_summary
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

C = ComplaintState
F = FeedbackState

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
    check_transition(COMPLAINT_TRANSITIONS, "complaint case", before, to)
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
        after=transition_summary(to, outcome, public_note, internal_note, details, key="state"),
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
    check_transition(FEEDBACK_TRANSITIONS, feedback.kind, before, to)
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
        after=transition_summary(
            to, None, public_note, None, {**changes, **(details or {})}, key="state"
        ),
    )


def allowed_complaint_transitions(state: str) -> list[str]:
    return sorted(COMPLAINT_TRANSITIONS.get(state, frozenset()))


def allowed_feedback_transitions(feedback: Feedback) -> list[str]:
    steps = _FEEDBACK_STEPS.get(feedback.kind, frozenset())
    return sorted(steps & FEEDBACK_TRANSITIONS.get(feedback.state, frozenset()))
