"""Feedback and complaints (DOMAIN.md "Feedback and complaints"): feedback kinds, allegations,
complaint cases (exact medians from the case rows), satisfaction, per quarter."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Area
from copa.db import db
from copa.feedback.models import (
    AllegationGroup,
    ComplaintCase,
    Feedback,
    FeedbackKind,
)
from copa.metrics.models import (
    AllegationRollup,
    ComplaintRollup,
    FeedbackRollup,
    SatisfactionRollup,
)
from copa.metrics.ranges import (
    Filters,
    Span,
    by_quarter,
    in_area,
    percent,
    quarter_out,
)
from copa.periods import Quarter

ALLEGATION_GROUPS = tuple(group.value for group in AllegationGroup)
SATISFIED_SCORES = (4, 5)


def feedback_by_quarter(span: Span, *, area: Area | None = None) -> dict[Quarter, Counter[str]]:
    """Compliments, suggestions and expressions of dissatisfaction per quarter (one query)."""
    rollup = FeedbackRollup
    query = (
        sa.select(*by_quarter(rollup), rollup.kind, sa.func.sum(rollup.count))
        .where(span.where(rollup.month), in_area(rollup, area))
        .group_by(*by_quarter(rollup), rollup.kind)
    )
    found: dict[Quarter, Counter[str]] = defaultdict(Counter)
    for year, number, kind, count in db.session.execute(query):
        found[Quarter(year, number)][kind] += int(count or 0)
    return found


def allegations_by_quarter(span: Span) -> dict[Quarter, Counter[str]]:
    """Allegations per quarter recorded and PCC-report group (force-wide: they have no area)."""
    rollup = AllegationRollup
    query = (
        sa.select(*by_quarter(rollup), rollup.group, sa.func.sum(rollup.count))
        .where(span.where(rollup.month))
        .group_by(*by_quarter(rollup), rollup.group)
    )
    found: dict[Quarter, Counter[str]] = defaultdict(Counter)
    for year, number, group, count in db.session.execute(query):
        found[Quarter(year, number)][group] += int(count or 0)
    return found


@dataclass
class QuarterCases:
    """What the complaint cases of one quarter show."""

    escalated: int = 0
    service_recovery: int = 0
    first_contact_seconds: list[int] = field(default_factory=list)  # the middle one or two
    answers: int = 0
    satisfied: int = 0


def complaint_cases_by_quarter(
    span: Span, *, area: Area | None = None
) -> dict[Quarter, QuarterCases]:
    """Escalation, service recovery and time to first contact of the cases logged in each
    quarter, and the satisfaction answers given in it: from the rollups, or for an area (which
    the rollups do not keep) from the complaint cases themselves."""
    if area is not None:
        return _complaint_cases_in(span, area)
    found: dict[Quarter, QuarterCases] = defaultdict(QuarterCases)
    contacted: Counter[Quarter] = Counter()
    cases = ComplaintRollup
    counted = (
        sa.select(
            *by_quarter(cases),
            cases.escalated,
            cases.recovered,
            cases.contacted,
            sa.func.sum(cases.count),
        )
        .where(span.where(cases.month))
        .group_by(*by_quarter(cases), cases.escalated, cases.recovered, cases.contacted)
    )
    for year, number, escalated, recovered, was_contacted, count in db.session.execute(counted):
        quarter, count = Quarter(year, number), int(count or 0)
        if escalated:
            found[quarter].escalated += count
        elif recovered:
            found[quarter].service_recovery += count
        if was_contacted:
            contacted[quarter] += count
    answers = SatisfactionRollup
    scores = (
        sa.select(*by_quarter(answers), answers.score, sa.func.sum(answers.count))
        .where(span.where(answers.month))
        .group_by(*by_quarter(answers), answers.score)
    )
    for year, number, score, count in db.session.execute(scores):
        found[Quarter(year, number)].answers += int(count or 0)
        if score in SATISFIED_SCORES:
            found[Quarter(year, number)].satisfied += int(count or 0)
    _median_times(span, contacted, found)
    return found


def _complaint_cases_in(span: Span, area: Area) -> dict[Quarter, QuarterCases]:
    """``complaint_cases_by_quarter`` for the cases whose feedback was given in ``area``."""
    case, found = ComplaintCase, defaultdict(QuarterCases)
    in_area_ = (_complaints_in(area),)
    logged_quarter = (case.logged_fiscal_year, case.logged_fiscal_quarter)
    escalated, recovered = case.escalated_at.is_not(None), case.first_action_at.is_not(None)
    counted = (
        sa.select(
            *logged_quarter,
            sa.func.sum(sa.case((escalated, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(~escalated, recovered), 1), else_=0)),
            sa.func.count(case.first_contact_seconds),
        )
        .where(span.where_moment(case.logged_at), *in_area_)
        .group_by(*logged_quarter)
    )
    contacted: Counter[Quarter] = Counter()
    for year, number, escalations, recoveries, times in db.session.execute(counted):
        found[Quarter(year, number)].escalated = int(escalations or 0)
        found[Quarter(year, number)].service_recovery = int(recoveries or 0)
        contacted[Quarter(year, number)] = int(times or 0)
    # Answers given in the quarter, whichever quarter the case was logged in.
    answers = (
        sa.select(
            span.quarter_of(case.satisfaction_at).label("answered"),
            case.satisfaction_score.in_(SATISFIED_SCORES).label("satisfied"),
        )
        .where(
            span.where_moment(case.satisfaction_at),
            case.satisfaction_score.is_not(None),
            *in_area_,
        )
        .subquery()
    )
    # A subquery, so GROUP BY names a column: PostgreSQL cannot match two copies of an
    # expression with bound parameters.
    answered = sa.select(
        answers.c.answered,
        sa.func.count(),
        sa.func.sum(sa.case((answers.c.satisfied, 1), else_=0)),
    ).group_by(answers.c.answered)
    for key, count, satisfied in db.session.execute(answered):
        found[_quarter(key)].answers = int(count or 0)
        found[_quarter(key)].satisfied = int(satisfied or 0)
    _median_times(span, contacted, found, *in_area_)
    return found


def _median_times(
    span: Span,
    contacted: Mapping[Quarter, int],
    found: dict[Quarter, QuarterCases],
    *where: sa.ColumnElement[bool],
) -> None:
    """The exact median time to first contact of each quarter: its middle one or two times,
    reached along the index on (quarter, seconds) by skipping the first half, not a sort."""
    case = ComplaintCase
    for quarter, times in contacted.items():
        if times == 0:
            continue
        middle = (
            sa.select(case.first_contact_seconds)
            .where(
                case.logged_fiscal_year == quarter.fiscal_year,
                case.logged_fiscal_quarter == quarter.quarter,
                case.first_contact_seconds.is_not(None),
                span.where_moment(case.logged_at),
                *where,
            )
            .order_by(case.first_contact_seconds)
            .offset((times - 1) // 2)
            .limit(2 - times % 2)
        )
        found[quarter].first_contact_seconds.extend(db.session.scalars(middle))


def _complaints_in(area: Area) -> sa.ColumnElement[bool]:
    """Complaint cases whose feedback was given in ``area``."""
    feedback = sa.select(Feedback.id).where(
        Feedback.id == ComplaintCase.feedback_id, in_area(Feedback, area)
    )
    return feedback.exists()


def _quarter(key: int) -> Quarter:
    """The Quarter of ``Span.quarter_of``'s ``fiscal_year * 10 + quarter``."""
    return Quarter(key // 10, key % 10)


def median_seconds(values: Sequence[float]) -> int | None:
    """The exact median, in whole seconds; None without values."""
    if not values:
        return None
    return int(Decimal(repr(statistics.median(values))).quantize(Decimal(1), ROUND_HALF_UP))


def feedback_row(
    quarter: Quarter, kinds: Mapping[str, int], allegations: Mapping[str, int], cases: QuarterCases
) -> dict[str, Any]:
    """One quarter's feedback and complaints measures."""
    return {
        **quarter_out(quarter),
        "complaints_logged": kinds.get(FeedbackKind.DISSATISFACTION, 0),
        "allegations": {group: allegations.get(group, 0) for group in ALLEGATION_GROUPS},
        "escalated": cases.escalated,
        "service_recovery": cases.service_recovery,
        "median_time_to_first_contact_seconds": median_seconds(cases.first_contact_seconds),
        "satisfaction": {
            "answers": cases.answers,
            "satisfied": cases.satisfied,
            "rate_percent": percent(cases.satisfied, cases.answers),
        },
        "compliments": kinds.get(FeedbackKind.COMPLIMENT, 0),
        "suggestions": kinds.get(FeedbackKind.SUGGESTION, 0),
    }


@dataclass(frozen=True)
class FeedbackQuarters:
    kinds: dict[Quarter, Counter[str]]
    allegations: dict[Quarter, Counter[str]]
    cases: dict[Quarter, QuarterCases]

    def row(self, quarter: Quarter) -> dict[str, Any]:
        return feedback_row(
            quarter,
            self.kinds.get(quarter, Counter()),
            self.allegations.get(quarter, Counter()),
            self.cases.get(quarter, QuarterCases()),
        )


def feedback_quarters(
    span: Span,
    *,
    area: Area | None = None,
    kinds: Mapping[Quarter, Counter[str]] | None = None,
) -> FeedbackQuarters:
    """Everything the feedback measures need for the span: three queries (two when
    ``feedback_by_quarter``'s answer is passed in)."""
    return FeedbackQuarters(
        dict(kinds) if kinds is not None else feedback_by_quarter(span, area=area),
        allegations_by_quarter(span),
        complaint_cases_by_quarter(span, area=area),
    )


def feedback_and_complaints(where: Filters) -> dict[str, Any]:
    """Complaints logged and their allegations, escalation and service recovery, time to first
    contact, satisfaction, compliments and suggestions, per quarter."""
    found = feedback_quarters(where.span, area=where.area)
    return {
        **where.echo(),
        "quarters": [found.row(quarter) for quarter in where.months.quarters()],
    }
