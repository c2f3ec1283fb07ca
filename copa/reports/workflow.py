"""Report status changes in one place (STYLE.md 7): the table of allowed transitions, COPA's
outcome codes and ``transition()``, the only function that assigns a report's status; it writes
the timeline row, tells the resident and writes the audit event in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from copa.audit.service import Actor, record
from copa.audit.transitions import check_transition, transition_summary
from copa.notifications.service import notify
from copa.reports.models import Report, ReportStatus, TimelineEntry

S = ReportStatus

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
    check_transition(REPORT_TRANSITIONS, "report", before, to)
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
        after=transition_summary(to, outcome, public_note, internal_note, details),
    )
    return entry


def report_event(report: Report, before: str, to: str, actor: Actor) -> str | None:
    """What the resident is told of a move from ``before`` to ``to`` (notifications catalogue
    event), or None when it is nothing they need to hear."""
    if to == S.ROUTED:
        # Routing as the report is submitted is told by report.received (submissions/service.py).
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
