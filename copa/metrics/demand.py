"""Demand reduction (DOMAIN.md "Demand reduction"): submissions by category and channel, demand
diverted to partners, 101 answers, calls avoided and minutes saved, per quarter."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Area
from copa.call_statistics.models import CallStatistics
from copa.db import db
from copa.metrics import click_throughs
from copa.metrics.complaints import feedback_by_quarter
from copa.metrics.lookups import (
    CategoryRef,
    categories_by_id,
)
from copa.metrics.models import (
    NONE,
    CallAnswerRollup,
    ReportMonthRollup,
    ReportRollup,
)
from copa.metrics.ranges import (
    Filters,
    Span,
    baseline_of,
    by_quarter,
    in_area,
    one_decimal,
    quarter_out,
)
from copa.periods import Quarter
from copa.routing.models import PartnerKind
from copa.settings import settings

REPORT_CHANNELS = ("app", "open311")
QUESTION_CATEGORY = "question"
CALL_ANSWERS = ("yes", "no", "not_sure")
# Partners outside the police: a report sent straight to one is demand diverted from the force.
REFERRED_KINDS = frozenset(
    {
        PartnerKind.COUNCIL,
        PartnerKind.HOUSING_PROVIDER,
        PartnerKind.HEALTH_AND_SOCIAL_CARE,
        PartnerKind.ENVIRONMENT_AGENCY,
    }
)


@dataclass
class QuarterDemand:
    """Reports, questions and their 101 answers in one quarter (feedback is added apart)."""

    by_category: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    questions: int = 0
    referred: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    feedback: int = 0

    @property
    def reports(self) -> int:
        return sum(self.by_category.values()) - self.questions


def report_rollup(area: Area | None, *, by_ward: bool = False) -> tuple[Any, Any]:
    """The report rollup to read, and its period column: the monthly one (a few rows a month)
    unless wards are asked for, which only the weekly one keeps."""
    if by_ward or (area is not None and area.level == "ward"):
        return ReportRollup, ReportRollup.week
    return ReportMonthRollup, ReportMonthRollup.month


def demand_by_quarter(
    span: Span,
    *,
    area: Area | None = None,
    feedback: Mapping[Quarter, Counter[str]] | None = None,
) -> dict[Quarter, QuarterDemand]:
    """Three queries: reports by category, channel and destination; 101 answers; feedback
    (unless ``feedback_by_quarter``'s answer for the same span and area is passed in)."""
    categories = categories_by_id()
    demand: dict[Quarter, QuarterDemand] = defaultdict(QuarterDemand)
    rollup, period = report_rollup(area)
    reports = (
        sa.select(
            *by_quarter(rollup),
            rollup.category_id,
            rollup.channel,
            rollup.destination_kind,
            sa.func.sum(rollup.count),
        )
        .where(span.where(period), in_area(rollup, area))
        .group_by(*by_quarter(rollup), rollup.category_id, rollup.channel, rollup.destination_kind)
    )
    for year, number, category_id, channel, destination, count in db.session.execute(reports):
        quarter, count = demand[Quarter(year, number)], int(count or 0)
        code = categories[category_id].code if category_id in categories else str(category_id)
        quarter.by_category[code] += count
        quarter.by_channel[channel] += count
        if code == QUESTION_CATEGORY:
            quarter.questions += count
        if destination in REFERRED_KINDS:
            quarter.referred += count
    answers = CallAnswerRollup
    query = (
        sa.select(*by_quarter(answers), answers.answer, sa.func.sum(answers.count))
        .where(span.where(answers.month), in_area(answers, area))
        .group_by(*by_quarter(answers), answers.answer)
    )
    for year, number, answer, count in db.session.execute(query):
        demand[Quarter(year, number)].answers[answer or NONE] += int(count or 0)
    if feedback is None:
        feedback = feedback_by_quarter(span, area=area)
    for quarter, kinds in feedback.items():
        demand[quarter].feedback = sum(kinds.values())
    return demand


def call_statistics_by_quarter(years: Iterable[int]) -> dict[Quarter, CallStatistics]:
    """The imported call statistics of the given financial years, by quarter."""
    rows = db.session.scalars(
        sa.select(CallStatistics).where(CallStatistics.fiscal_year.in_(sorted(set(years))))
    )
    return {Quarter(row.fiscal_year, row.fiscal_quarter): row for row in rows}


def default_minutes_per_call() -> float:
    """The configured call-handler minutes per 101 call, used without imported handling times."""
    return settings().call_handler_minutes_per_call


def minutes_per_call(statistics_row: CallStatistics | None) -> float:
    """A quarter's minutes per call (unrounded): its average handling time when imported, else
    the setting."""
    if statistics_row is not None and statistics_row.average_handling_seconds:
        return statistics_row.average_handling_seconds / 60
    return default_minutes_per_call()


def call_statistics_out(row: CallStatistics | None) -> dict[str, Any] | None:
    """A quarter's imported figures as the reports show them."""
    if row is None:
        return None
    return {
        "non_emergency_calls": row.non_emergency_calls,
        "answered_within_2_minutes_percent": row.answered_within_2_minutes_percent,
        "average_wait_seconds": row.average_wait_seconds,
        "emergency_calls": row.emergency_calls,
        "emergency_answered_within_10_seconds_percent": (
            row.emergency_answered_within_10_seconds_percent
        ),
        "average_handling_seconds": row.average_handling_seconds,
    }


def change_against_baseline(
    current: CallStatistics | None, baseline: CallStatistics | None
) -> dict[str, Any] | None:
    """Calls (relative %), answered within 2 minutes (points) and wait (seconds) against the
    baseline quarter; None when either quarter has no imported statistics."""
    if current is None or baseline is None:
        return None
    calls = baseline.non_emergency_calls
    return {
        "non_emergency_calls_percent": (
            one_decimal((current.non_emergency_calls - calls) / calls * 100) if calls else None
        ),
        "answered_within_2_minutes_points": one_decimal(
            current.answered_within_2_minutes_percent - baseline.answered_within_2_minutes_percent
        ),
        "average_wait_seconds": current.average_wait_seconds - baseline.average_wait_seconds,
    }


def demand_row(
    quarter: Quarter,
    demand: QuarterDemand,
    calls: Mapping[Quarter, CallStatistics],
    baseline_year: int | None,
    categories: Mapping[str, CategoryRef],
) -> dict[str, Any]:
    """One quarter's demand-reduction measures."""
    per_call = minutes_per_call(calls.get(quarter))
    avoided = demand.answers["yes"]
    return {
        **quarter_out(quarter),
        "submissions": {
            "report": demand.reports,
            "question": demand.questions,
            "feedback": demand.feedback,
            "total": demand.reports + demand.questions + demand.feedback,
        },
        "by_category": _category_counts(demand.by_category, categories),
        # Feedback can only be given through the app.
        "by_channel": {
            "app": demand.by_channel["app"] + demand.feedback,
            "open311": demand.by_channel["open311"],
        },
        "referred_to_partners": demand.referred,
        "would_have_called_101": _answers(demand.answers),
        "calls_avoided": avoided,
        "minutes_per_call": one_decimal(per_call),
        "minutes_saved": one_decimal(avoided * per_call),
        "call_statistics": call_statistics_out(calls.get(quarter)),
        "change_against_baseline": change_against_baseline(
            calls.get(quarter), calls.get(baseline_of(quarter, baseline_year))
        ),
    }


def _answers(answers: Mapping[str, int]) -> dict[str, int]:
    return {
        **{key: answers.get(key, 0) for key in CALL_ANSWERS},
        "unanswered": answers.get(NONE, 0),
    }


def _category_counts(
    counts: Mapping[str, int], categories: Mapping[str, CategoryRef]
) -> list[dict[str, Any]]:
    """Categories with any report, most first (then by name)."""
    items = [(code, count) for code, count in counts.items() if count]
    names = {code: categories[code].name if code in categories else code for code, _ in items}
    items.sort(key=lambda item: (-item[1], names[item[0]]))
    return [{"code": code, "name": names[code], "count": count} for code, count in items]


def demand_reduction(where: Filters, *, baseline_year: int | None = None) -> dict[str, Any]:
    """Submissions, demand diverted to partners, 101 answers, calls avoided and minutes saved,
    the imported call statistics with their change against the baseline, and signpost
    click-throughs (``click_throughs``), per quarter."""
    quarters = where.months.quarters()
    demand = demand_by_quarter(where.span, area=where.area)
    years = {q.fiscal_year for q in quarters} | {
        baseline_of(q, baseline_year).fiscal_year for q in quarters
    }
    calls = call_statistics_by_quarter(years)
    categories = {ref.code: ref for ref in categories_by_id().values()}
    rows = [
        demand_row(q, demand.get(q, QuarterDemand()), calls, baseline_year, categories)
        for q in quarters
    ]
    found = {
        **where.echo(),
        "baseline_year": baseline_year,
        "quarters": rows,
        "totals": _demand_totals(rows),
    }
    click_throughs.add_to_demand(found, where, baseline_year)
    return found


def _demand_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def total(*path: str) -> int:
        return sum(_dig(row, path) for row in rows)

    by_category: Counter[str] = Counter()
    names: dict[str, str] = {}
    for row in rows:
        for item in row["by_category"]:
            by_category[item["code"]] += item["count"]
            names[item["code"]] = item["name"]
    refs = {code: CategoryRef(code, name, "") for code, name in names.items()}
    return {
        "submissions": {k: total("submissions", k) for k in ("report", "question", "feedback")}
        | {"total": total("submissions", "total")},
        "by_category": _category_counts(by_category, refs),
        "by_channel": {k: total("by_channel", k) for k in REPORT_CHANNELS},
        "referred_to_partners": total("referred_to_partners"),
        "would_have_called_101": {
            k: total("would_have_called_101", k) for k in (*CALL_ANSWERS, "unanswered")
        },
        "calls_avoided": total("calls_avoided"),
        "minutes_saved": one_decimal(sum(row["minutes_saved"] for row in rows)),
    }


def _dig(row: Mapping[str, Any], path: Sequence[str]) -> Any:
    for key in path:
        row = row[key]
    return row
