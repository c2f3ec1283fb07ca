"""Targets: how soon OPCC staff or a partner must first act on a report, the Resolution Team
first contact a complainant, and a partner acknowledge a referral; and whether each was met.

The three measures, exactly:

- **First action on a report** (target per category, hours; a category without its own target
  has the default): the time from the report's arrival (``created_at``) to the earliest of
  (a) a change of its status by OPCC staff or by a partner (a timeline row whose actor is staff
  or a partner: routing it, rejecting it, marking it a duplicate, a partner's "in progress",
  "resolved" or "not ours"), (b) a partner's acknowledgement of a referral of it, (c) a message
  from staff to the resident on it. Routing done by the system as the report arrives, assignment
  and internal notes are not actions: neither the resident nor a partner sees anything of them.
- **Complaint first contact** (one target): from the case being logged (``logged_at``) to the
  Resolution Team's first contact with the complainant (``first_contact_at``, set when the case
  first moves to ``contacted``).
- **Referral acknowledgement** (one target): from the referral being sent (``sent_at``) to the
  partner acknowledging it (``acknowledged_at``; any update from the partner acknowledges too).

An item is **overdue** while it is still waiting (open, not yet acted on / contacted /
acknowledged) after its due time (start + target hours). A settled item (a report resolved,
closed, duplicate or rejected; a complaint case resolved, escalated or closed; a referral
withdrawn) is never overdue. Targets apply as currently set: changing one moves the due time of
everything still waiting.

Per quarter (of the start, Europe/London) an item **counts** once the target is decided: it was
acted on, or its due time passed while it waited. **Within target**: acted on no later than due.
A settled item never acted on counts nowhere (there is nothing to time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from copa.audit.service import Actor, record
from copa.catalog.models import Category
from copa.db import db, utcnow, write
from copa.feedback.models import ComplaintCase, ComplaintState
from copa.messages.models import MessageDirection, ResidentMessage
from copa.periods import Quarter
from copa.reports.models import Report, ReportStatus, TimelineEntry
from copa.routing.models import Referral, ReferralState
from copa.targets.models import EVERY, Measure, Target
from copa.web.access import Principal
from copa.web.problems import Unprocessable

# Used until an admin sets a target (no row for it).
DEFAULT_HOURS = {
    Measure.REPORT_FIRST_ACTION: 48,
    Measure.COMPLAINT_FIRST_CONTACT: 48,
    Measure.REFERRAL_ACKNOWLEDGEMENT: 24,
}
MAX_HOURS = 24 * 366  # a year: anything longer is not a target

SETTLED_REPORT = frozenset(
    {ReportStatus.RESOLVED, ReportStatus.CLOSED, ReportStatus.DUPLICATE, ReportStatus.REJECTED}
)
SETTLED_COMPLAINT = frozenset(
    {ComplaintState.RESOLVED, ComplaintState.ESCALATED, ComplaintState.CLOSED}
)
_ACTORS = ("staff", "partner")


@dataclass(frozen=True)
class Targets:
    """The targets in force, in hours."""

    report_first_action_hours: int
    category_hours: Mapping[str, int]
    complaint_first_contact_hours: int
    referral_acknowledgement_hours: int
    updated_at: datetime | None = None

    def report_hours(self, category_code: str) -> int:
        return self.category_hours.get(category_code, self.report_first_action_hours)


def current_targets() -> Targets:
    """The targets as set by admins, the built-in defaults where none is set."""
    rows = list(db.session.scalars(sa.select(Target)))
    single = {row.measure: row.hours for row in rows if row.scope == EVERY}
    return Targets(
        report_first_action_hours=single.get(
            Measure.REPORT_FIRST_ACTION, DEFAULT_HOURS[Measure.REPORT_FIRST_ACTION]
        ),
        category_hours={
            row.scope: row.hours
            for row in rows
            if row.measure == Measure.REPORT_FIRST_ACTION and row.scope != EVERY
        },
        complaint_first_contact_hours=single.get(
            Measure.COMPLAINT_FIRST_CONTACT, DEFAULT_HOURS[Measure.COMPLAINT_FIRST_CONTACT]
        ),
        referral_acknowledgement_hours=single.get(
            Measure.REFERRAL_ACKNOWLEDGEMENT, DEFAULT_HOURS[Measure.REFERRAL_ACKNOWLEDGEMENT]
        ),
        updated_at=max((row.updated_at for row in rows), default=None),
    )


def targets_shown() -> dict[str, Any]:
    """The targets with every category's hours in force (its own, or the default)."""
    targets = current_targets()
    categories = db.session.scalars(
        sa.select(Category).order_by(Category.sort_order, Category.code)
    )
    return {
        **settings_of(targets),
        "updated_at": targets.updated_at,
        "categories": [
            {
                "code": category.code,
                "name": category.name,
                "active": category.active,
                "hours": targets.report_hours(category.code),
                "own_target": category.code in targets.category_hours,
            }
            for category in categories
        ],
    }


def set_targets(principal: Principal, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the targets as a whole (PUT: sending the same twice changes nothing the second
    time); a category code that names no category is a 422. Audited with before and after."""
    with write():
        codes = set(db.session.scalars(sa.select(Category.code)))
        unknown = sorted(set(payload["category_hours"]) - codes)
        if unknown:
            raise Unprocessable(
                "Targets can only be set for categories that exist.",
                errors={
                    "category_hours": [f"No category has the code {code}." for code in unknown]
                },
            )
        before = settings_of(current_targets())
        wanted = {
            (Measure.REPORT_FIRST_ACTION, EVERY): payload["report_first_action_hours"],
            (Measure.COMPLAINT_FIRST_CONTACT, EVERY): payload["complaint_first_contact_hours"],
            (Measure.REFERRAL_ACKNOWLEDGEMENT, EVERY): payload["referral_acknowledgement_hours"],
            **{
                (Measure.REPORT_FIRST_ACTION, code): hours
                for code, hours in payload["category_hours"].items()
            },
        }
        rows = {
            (row.measure, row.scope): row
            for row in db.session.scalars(sa.select(Target).with_for_update())
        }
        for key, row in rows.items():
            if key not in wanted:
                db.session.delete(row)
        for (measure, scope), hours in wanted.items():
            row = rows.get((measure, scope))
            if row is None:
                db.session.add(
                    Target(measure=measure, scope=scope, hours=hours, updated_by_id=principal.id)
                )
            elif row.hours != hours:
                row.hours, row.updated_by_id = hours, principal.id
        db.session.flush()
        after = settings_of(current_targets())
        if after != before:
            changed = [name for name in after if after[name] != before[name]]
            record(
                Actor.of(principal),
                "targets.update",
                "targets",
                None,
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )
    return targets_shown()


def settings_of(targets: Targets) -> dict[str, Any]:
    """The targets as the API shows and audits them, in hours."""
    return {
        "report_first_action_hours": targets.report_first_action_hours,
        "category_hours": dict(sorted(targets.category_hours.items())),
        "complaint_first_contact_hours": targets.complaint_first_contact_hours,
        "referral_acknowledgement_hours": targets.referral_acknowledgement_hours,
    }


# --- due times in SQL (the queue sorts by them) --------------------------------------------


class epoch(FunctionElement):  # noqa: N801 - reads as a SQL function
    """Seconds since 1970 of a UTC timestamp column, on SQLite and PostgreSQL."""

    type = sa.Float()
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # julianday keeps the fraction of a second that strftime('%s') would drop
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch)
def _epoch_default(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


# What counts as a report's first action (module docstring), once: for each kind, the column
# naming the report, the column of its time, and the condition. The queue asks whether one
# exists (report_acted_on); the within-target figures ask when the first was (first_actions).
_FIRST_ACTIONS = (
    (TimelineEntry.report_id, TimelineEntry.at, TimelineEntry.actor_kind.in_(_ACTORS)),
    (Referral.report_id, Referral.acknowledged_at, Referral.acknowledged_at.is_not(None)),
    (
        ResidentMessage.report_id,
        ResidentMessage.created_at,
        ResidentMessage.direction == MessageDirection.TO_RESIDENT,
    ),
)


def report_acted_on(report_id: Any) -> sa.ColumnElement[bool]:
    """SQL: the report (an id column) has had its first action (module docstring)."""
    return sa.or_(
        *(
            sa.exists().where(owner == report_id, condition)
            for owner, _, condition in _FIRST_ACTIONS
        )
    )


def report_due_epoch(targets: Targets, category_code: Any, created_at: Any) -> Any:
    """SQL: when a report's first action is due, in seconds since 1970."""
    hours = (
        sa.case(
            *((category_code == code, hours) for code, hours in targets.category_hours.items()),
            else_=targets.report_first_action_hours,
        )
        if targets.category_hours
        else sa.literal(targets.report_first_action_hours)
    )
    return epoch(created_at) + hours * 3600


def complaint_due_epoch(targets: Targets, logged_at: Any) -> Any:
    """SQL: when a complaint case's first contact is due, in seconds since 1970."""
    return epoch(logged_at) + targets.complaint_first_contact_hours * 3600


# --- within target, per quarter ------------------------------------------------------------


@dataclass
class Tally:
    """One measure in one quarter: items whose target is decided, those acted on, those in time."""

    counted: int = 0
    handled: int = 0
    within_target: int = 0

    def add(self, start: datetime, done: datetime | None, hours: int, now: datetime) -> None:
        due = start + timedelta(hours=hours)
        if done is None:
            if due < now:
                self.counted += 1  # missed: still waiting after its due time
            return
        self.counted += 1
        self.handled += 1
        if done <= due:
            self.within_target += 1


@dataclass
class QuarterTallies:
    reports: Tally = field(default_factory=Tally)
    complaints: Tally = field(default_factory=Tally)
    referrals: Tally = field(default_factory=Tally)


def within_target_by_quarter(
    start: datetime, end: datetime, *, now: datetime | None = None
) -> dict[Quarter, QuarterTallies]:
    """Reports, complaint cases and referrals begun in [start, end), tallied by the quarter
    they began in (Europe/London): counted, handled, within target (module docstring)."""
    now = now or utcnow()
    targets = current_targets()
    tallies: dict[Quarter, QuarterTallies] = {}

    def tally(moment: datetime) -> QuarterTallies:
        return tallies.setdefault(Quarter.of(moment), QuarterTallies())

    reports = db.session.execute(
        sa.select(Report.id, Report.created_at, Report.status, Category.code)
        .join(Category, Category.id == Report.category_id)
        .where(Report.created_at >= start, Report.created_at < end)
    ).all()
    acted = first_actions(row.id for row in reports)
    for row in reports:
        done = acted.get(row.id)
        if done is None and row.status in SETTLED_REPORT:
            continue
        tally(row.created_at).reports.add(row.created_at, done, targets.report_hours(row.code), now)

    for logged_at, contacted_at, state in db.session.execute(
        sa.select(
            ComplaintCase.logged_at, ComplaintCase.first_contact_at, ComplaintCase.state
        ).where(ComplaintCase.logged_at >= start, ComplaintCase.logged_at < end)
    ):
        if contacted_at is None and state in SETTLED_COMPLAINT:
            continue
        tally(logged_at).complaints.add(
            logged_at, contacted_at, targets.complaint_first_contact_hours, now
        )

    for sent_at, acknowledged_at, state in db.session.execute(
        sa.select(Referral.sent_at, Referral.acknowledged_at, Referral.state).where(
            Referral.sent_at >= start, Referral.sent_at < end
        )
    ):
        if acknowledged_at is None and state == ReferralState.WITHDRAWN:
            continue
        tally(sent_at).referrals.add(
            sent_at, acknowledged_at, targets.referral_acknowledgement_hours, now
        )
    return tallies


def first_actions(report_ids: Iterable[Any]) -> dict[Any, datetime]:
    """The time of each report's first action (module docstring), for those acted on."""
    ids = list(report_ids)
    found: dict[Any, datetime] = {}
    if not ids:
        return found
    chunk = 500  # bound the IN list
    for owner, moment, condition in _FIRST_ACTIONS:
        statement = sa.select(owner, sa.func.min(moment)).where(condition).group_by(owner)
        for first in range(0, len(ids), chunk):
            part = ids[first : first + chunk]
            for report_id, at in db.session.execute(statement.where(owner.in_(part))):
                if at is not None and (report_id not in found or at < found[report_id]):
                    found[report_id] = at
    return found
