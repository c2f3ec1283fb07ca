"""The triage queue: reports and feedback waiting for OPCC staff, one list, most urgent first
(open possible emergencies, then deliveries that failed, then the oldest), or by due time.

Each report still waiting for its first action, and each complaint case still waiting for first
contact, has a due time from its target (copa/targets); past it, the item is overdue. A settled
item (SETTLED) is never overdue, and a settled possible emergency goes back among the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.catalog.models import Category
from copa.db import db, utcnow
from copa.feedback.models import ComplaintCase, Feedback, FeedbackState
from copa.periods import local_day_end, local_day_start
from copa.reports.models import Report
from copa.targets.service import (
    SETTLED_COMPLAINT,
    SETTLED_REPORT,
    Targets,
    complaint_due_epoch,
    current_targets,
    report_acted_on,
    report_due_epoch,
)
from copa.web.access import Principal, Role
from copa.web.pagination import PageResult

_REPORT_ROLES = frozenset({Role.REVIEWER, Role.ADMIN})  # the Resolution Team sees feedback only
_SUMMARY_LENGTH = 140
# Statuses (a report's, a complaint case's, a compliment's or suggestion's) of items that need
# nobody any more: the console hides them unless asked, and they are never urgent nor overdue.
# (A complaint case's resolved and closed are spelled as a report's.)
SETTLED = frozenset(
    {*map(str, SETTLED_REPORT), str(FeedbackState.PASSED_ON), str(FeedbackState.ANSWERED)}
)
SORTS = ("urgency", "due")


def staff_queue(principal: Principal, query: Mapping[str, Any]) -> PageResult:
    """The triage queue over reports and feedback. ``sort=urgency`` (the default): open possible
    emergencies first, then failed deliveries, then the oldest; ``sort=due``: what waits for a
    first action or first contact by due time (most overdue first), then the rest, oldest first.

    Someone without the reviewer or admin role (the Resolution Team) sees feedback only.
    """
    kind = query.get("kind")
    targets = current_targets()
    parts: list[sa.Select] = []
    if kind in (None, "report") and principal.has_any(_REPORT_ROLES):
        parts.append(_queued_reports(principal, query, targets))
    if kind != "report":
        parts.append(_queued_feedback(principal, query, targets))
    page, page_size = query["page"], query["page_size"]
    if not parts:
        return PageResult([], page, page_size, 0)
    queue = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(queue))
    if query.get("sort") == "due":
        order = (queue.c.due.is_(None), queue.c.due, queue.c.created_at, queue.c.id)
    else:
        order = (
            queue.c.urgent.desc(),  # an open possible emergency; a closed one is like the rest
            queue.c.delivery_failed.desc(),  # a report its partner never got: next
            queue.c.created_at,
            queue.c.id,
        )
    rows = db.session.execute(
        sa.select(queue.c.kind, queue.c.id, queue.c.due)
        .order_by(*order)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return PageResult(_queue_items(rows), page, page_size, total or 0)


def _queued_reports(principal: Principal, query: Mapping[str, Any], targets: Targets) -> sa.Select:
    conditions = _area_and_time(Report, query)
    if query.get("status"):
        conditions.append(Report.status.in_(query["status"]))
    if query.get("category"):
        conditions.append(
            Report.category_id.in_(sa.select(Category.id).where(Category.code == query["category"]))
        )
    for flag in ("repeat_asb", "unrouted", "delivery_failed"):
        if query.get(flag) is not None:
            conditions.append(getattr(Report, flag).is_(query[flag]))
    if query.get("assignee") is not None:
        conditions.append(_assigned(Report.assignee_id, principal, query["assignee"]))
    is_open = Report.status.not_in([str(status) for status in SETTLED_REPORT])
    waiting = sa.and_(is_open, sa.not_(report_acted_on(Report.id)))
    return (
        sa.select(
            sa.literal_column("'report'", sa.String).label("kind"),
            Report.id.label("id"),
            Report.created_at.label("created_at"),
            sa.case((sa.and_(Report.possible_emergency, is_open), 1), else_=0).label("urgent"),
            Report.delivery_failed.label("delivery_failed"),
            sa.case(
                (waiting, report_due_epoch(targets, Category.code, Report.created_at)),
                else_=sa.null(),
            ).label("due"),
        )
        .join(Category, Category.id == Report.category_id)
        .where(*conditions)
    )


def _queued_feedback(principal: Principal, query: Mapping[str, Any], targets: Targets) -> sa.Select:
    conditions = _area_and_time(Feedback, query)
    if query.get("kind") not in (None, "feedback"):
        conditions.append(Feedback.kind == query["kind"])
    # A complaint's case state; a compliment's or suggestion's own (received, passed_on,
    # answered, closed).
    state = sa.func.coalesce(ComplaintCase.state, Feedback.state)
    if query.get("status"):
        conditions.append(state.in_(query["status"]))
    if query.get("handled") is not None:
        handled = Feedback.state != FeedbackState.RECEIVED
        conditions.append(
            sa.and_(ComplaintCase.id.is_(None), handled)
            if query["handled"]
            else sa.or_(ComplaintCase.id.is_not(None), sa.not_(handled))
        )
    # Feedback has no category and is never repeat ASB, unrouted or undelivered.
    if (
        query.get("category")
        or query.get("repeat_asb")
        or query.get("unrouted")
        or query.get("delivery_failed")
    ):
        conditions.append(sa.false())
    if query.get("assignee") is not None:
        conditions.append(_assigned(ComplaintCase.assignee_id, principal, query["assignee"]))
    # A complaint case waits for first contact; compliments and suggestions have no target.
    waiting = sa.and_(
        ComplaintCase.id.is_not(None),
        ComplaintCase.first_contact_at.is_(None),
        ComplaintCase.state.not_in([str(state) for state in SETTLED_COMPLAINT]),
    )
    return (
        sa.select(
            sa.literal_column("'feedback'", sa.String).label("kind"),
            Feedback.id.label("id"),
            Feedback.created_at.label("created_at"),
            sa.case(
                (sa.and_(Feedback.possible_emergency, state.not_in(sorted(SETTLED))), 1), else_=0
            ).label("urgent"),
            sa.false().label("delivery_failed"),
            sa.case(
                (waiting, complaint_due_epoch(targets, ComplaintCase.logged_at)), else_=sa.null()
            ).label("due"),
        )
        .outerjoin(ComplaintCase, ComplaintCase.feedback_id == Feedback.id)
        .where(*conditions)
    )


def _area_and_time(model: type[Report] | type[Feedback], query: Mapping[str, Any]) -> list:
    conditions: list = []
    if query.get("ward"):
        conditions.append(model.ward_code == query["ward"])
    if query.get("local_authority"):
        conditions.append(model.local_authority_code == query["local_authority"])
    if query.get("from_date"):
        conditions.append(model.created_at >= local_day_start(query["from_date"]))
    if query.get("to_date"):
        conditions.append(model.created_at < local_day_end(query["to_date"]))
    if query.get("possible_emergency") is not None:
        conditions.append(model.possible_emergency.is_(query["possible_emergency"]))
    return conditions


def _assigned(column: Any, principal: Principal, assignee: uuid.UUID | str) -> Any:
    if assignee == "none":
        return column.is_(None)
    return column == (principal.id if assignee == "me" else assignee)


def _queue_items(rows: Iterable[sa.Row]) -> list[dict[str, Any]]:
    rows = list(rows)
    report_ids = [row.id for row in rows if row.kind == "report"]
    feedback_ids = [row.id for row in rows if row.kind == "feedback"]
    reports = {
        report.id: report
        for report in db.session.scalars(
            sa.select(Report)
            .where(Report.id.in_(report_ids))
            .options(selectinload(Report.assignee))
        )
    }
    feedback = {
        item.id: item
        for item in db.session.scalars(
            sa.select(Feedback)
            .where(Feedback.id.in_(feedback_ids))
            .options(selectinload(Feedback.complaint).selectinload(ComplaintCase.assignee))
        )
    }
    now = utcnow()
    items = []
    for row in rows:
        if row.kind == "report":
            report = reports[row.id]
            items.append(
                {
                    "kind": "report",
                    "id": report.id,
                    "reference": report.reference,
                    "status": report.status,
                    "category": report.category,
                    "feedback_kind": None,
                    "area": report.area,
                    "possible_emergency": report.possible_emergency,
                    "repeat_asb": report.repeat_asb,
                    "unrouted": report.unrouted,
                    "delivery_failed": report.delivery_failed,
                    "assignee": report.assignee,
                    "created_at": report.created_at,
                    "summary": report.description[:_SUMMARY_LENGTH],
                    **_due(row.due, now),
                }
            )
        else:
            item = feedback[row.id]
            case = item.complaint
            items.append(
                {
                    "kind": "feedback",
                    "id": item.id,
                    "reference": item.reference,
                    "status": case.state if case is not None else item.state,
                    "category": None,
                    "feedback_kind": item.kind,
                    "area": item.area,
                    "possible_emergency": item.possible_emergency,
                    "repeat_asb": False,
                    "unrouted": False,
                    "delivery_failed": False,
                    "assignee": case.assignee if case is not None else None,
                    "created_at": item.created_at,
                    "summary": item.text[:_SUMMARY_LENGTH],
                    **_due(row.due, now),
                }
            )
    return items


def _due(due: float | None, now: datetime) -> dict[str, Any]:
    """When the first action (report) or first contact (complaint) is due, and by how long it
    is overdue: nothing while none is due (done already, settled, or no target)."""
    if due is None:
        return {"due_at": None, "overdue": False, "overdue_seconds": None}
    due_at = datetime.fromtimestamp(round(float(due), 3), UTC)  # to the millisecond
    late = int((now - due_at).total_seconds())
    return {"due_at": due_at, "overdue": late > 0, "overdue_seconds": late if late > 0 else None}
