"""Status changes in one place (STYLE.md 7): the table of allowed transitions and the single
``transition()`` that applies one and writes its timeline row in the same transaction."""

from __future__ import annotations

import uuid

from copa.reports.models import Report, ReportStatus, TimelineEntry
from copa.web.problems import Conflict, problem_type

S = ReportStatus

# DOMAIN.md "Report lifecycle": received -> routed -> acknowledged -> in_progress ->
# resolved | closed; side exits duplicate and rejected; a partner's "not our responsibility"
# sends it back to received for staff to re-route.
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


class InvalidTransition(Conflict):
    type = problem_type("invalid-transition")


def transition(
    report: Report,
    to: str,
    *,
    actor_kind: str,
    actor_id: uuid.UUID | None = None,
    public_note: str | None = None,
) -> TimelineEntry:
    """Move a report to ``to`` and record it on its timeline (part of the caller's transaction)."""
    allowed = REPORT_TRANSITIONS.get(report.status, frozenset())
    if to not in allowed:
        raise InvalidTransition(
            f"A {report.status} report cannot become {to}.",
            allowed=sorted(allowed),
        )
    entry = TimelineEntry(
        actor_kind=actor_kind,
        actor_id=actor_id,
        from_status=report.status,
        to_status=to,
        public_note=public_note,
    )
    report.status = to
    report.timeline.append(entry)
    return entry
