"""The Commissioner's measures, read from the rollups (DOMAIN.md "Public confidence", "Demand
reduction", "Feedback and complaints", "Reporting periods").

Every function here only reads. Periods are Europe/London months: a ``Span`` is one or more
month ranges, and every rollup row carries its financial quarter, so a whole series is one
``GROUP BY fiscal_year, fiscal_quarter`` query, never a query per quarter. The PCC report
(``copa.pcc_report.service``) is assembled from the same ``*_by_quarter`` functions, so its
numbers are the metrics API's numbers.

The only raw rows read are complaint cases (a small table): the median time to first contact
must be exact, and escalation and service recovery are states of a case, not counts.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app, g

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import Area
from copa.call_statistics.models import CallStatistics
from copa.catalog.models import Category
from copa.confidence.service import OPTION_KEYS
from copa.db import db
from copa.feedback.models import (
    AllegationGroup,
    ComplaintCase,
    Feedback,
    FeedbackKind,
)
from copa.metrics import click_throughs
from copa.metrics.models import (
    NONE,
    AllegationRollup,
    CallAnswerRollup,
    ComplaintRollup,
    ConfidenceRollup,
    FeedbackRollup,
    ReferralRollup,
    ReportMonthRollup,
    ReportRollup,
    SatisfactionRollup,
)
from copa.metrics.ranges import (
    Filters,
    Span,
    area_out,
    baseline_of,
    in_area,
    month_label,
    one_decimal,
    percent,
    quarter_out,
)
from copa.metrics.rollups import DURATION_BUCKETS
from copa.periods import Quarter
from copa.routing.models import Partner, PartnerKind

MAX_MONTHS = 120  # ten years: longer spans are refused, not silently cut
CONFIDENT = ("quite_confident", "very_confident")
NOT_CONFIDENT = ("not_at_all_confident", "not_very_confident")
CHANNELS = ("app", "event")
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
ALLEGATION_GROUPS = tuple(group.value for group in AllegationGroup)
NO_OUTCOME = "none_recorded"
SATISFIED_SCORES = (4, 5)
_CATEGORIES = "copa_metrics_categories"  # flask.g: the category names of this request
CAVEAT = (
    "App votes and event counters are self-selected: the people who answer choose themselves, "
    "so the figures describe those who answered, not the population of Cleveland, and are not "
    "comparable with the Crime Survey for England and Wales."
)


# --- periods ------------------------------------------------------------------------------


def _by_quarter(model: Any) -> tuple[Any, Any]:
    return model.fiscal_year, model.fiscal_quarter


# --- public confidence ----------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion ``successes / n`` (0-1); None when n is 0.

    Unlike the normal approximation it stays inside [0, 1] and behaves for small n and
    proportions near 0 or 1, which small wards and quarters produce.
    """
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Distribution:
    """Counts of the five options (and of each channel) for one group."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPTION_KEYS, 0))
    channels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))

    def add(self, channel: str, option: str, count: int) -> None:
        self.counts[option] = self.counts.get(option, 0) + count
        self.channels[channel] = self.channels.get(channel, 0) + count

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def measures(self) -> dict[str, Any]:
        """n, the counts, % confident with its 95% Wilson interval, and net confidence."""
        n = self.n
        confident = sum(self.counts[key] for key in CONFIDENT)
        not_confident = sum(self.counts[key] for key in NOT_CONFIDENT)
        interval = wilson_interval(confident, n)
        return {
            "n": n,
            "counts": dict(self.counts),
            "channels": dict(self.channels),
            "percent_confident": percent(confident, n),
            "interval": (
                {"lower": one_decimal(interval[0] * 100), "upper": one_decimal(interval[1] * 100)}
                if interval
                else None
            ),
            # The difference of the rounded figures would drift by 0.1: round the exact one.
            "net_confidence": one_decimal((confident - not_confident) / n * 100) if n else None,
        }


def confidence_distributions(
    span: Span, keys: Sequence[Any], *, area: Area | None = None, channel: str | None = None
) -> dict[tuple, Distribution]:
    """One query: the option counts per value of ``keys`` (rollup columns) inside the span."""
    rollup = ConfidenceRollup
    query = (
        sa.select(*keys, rollup.channel, rollup.option, sa.func.sum(rollup.count))
        .where(span.where(rollup.month), in_area(rollup, area))
        .group_by(*keys, rollup.channel, rollup.option)
    )
    if channel is not None:
        query = query.where(rollup.channel == channel)
    groups: dict[tuple, Distribution] = defaultdict(Distribution)
    for *key, row_channel, option, count in db.session.execute(query):
        groups[tuple(key)].add(row_channel, option, int(count or 0))
    return groups


def confidence_by_quarter(
    span: Span, *, area: Area | None = None, channel: str | None = None
) -> dict[Quarter, Distribution]:
    """The distribution of each quarter of the span that has any answer."""
    groups = confidence_distributions(
        span, _by_quarter(ConfidenceRollup), area=area, channel=channel
    )
    return {Quarter(*key): distribution for key, distribution in groups.items()}


def public_confidence(
    where: Filters, *, channel: str | None = None, group_by: str = "quarter"
) -> dict[str, Any]:
    """The confidence measures per quarter, month or area, with the total over the range."""
    grouping = {"quarter": _confidence_quarters, "month": _confidence_months}
    groups = grouping.get(group_by, _confidence_areas)(where, channel)
    total = Distribution()
    for _, distribution in groups:
        for key, count in distribution.counts.items():
            total.counts[key] += count
        for key, count in distribution.channels.items():
            total.channels[key] += count
    return {
        **where.echo(),
        "channel": channel,
        "group_by": group_by,
        "groups": [{**key, **distribution.measures()} for key, distribution in groups],
        "total": total.measures(),
        "caveat": CAVEAT,
    }


Grouped = list[tuple[dict[str, Any], Distribution]]


def _confidence_quarters(where: Filters, channel: str | None) -> Grouped:
    found = confidence_by_quarter(where.span, area=where.area, channel=channel)
    return [
        (quarter_out(quarter), found.get(quarter, Distribution()))
        for quarter in where.months.quarters()
    ]


def _confidence_months(where: Filters, channel: str | None) -> Grouped:
    found = confidence_distributions(
        where.span, (ConfidenceRollup.month,), area=where.area, channel=channel
    )
    return [
        ({"month": month_label(month)}, found.get((month,), Distribution()))
        for month in where.months.months()
    ]


def _confidence_areas(where: Filters, channel: str | None) -> Grouped:
    # Without an area: per local authority. With an authority: per ward, and its own row for
    # the votes cast for the authority as a whole (area_code is then the authority's code).
    rollup = ConfidenceRollup
    by_authority = where.area is None
    key = rollup.local_authority_code if by_authority else rollup.area_code
    found = confidence_distributions(where.span, (key,), area=where.area, channel=channel)
    return [
        ({"area": area_out(area)}, found.get((area.code,), Distribution()))
        for area in _areas(where)
    ]


def _areas(where: Filters) -> list[Area]:
    """The areas a per-area breakdown lists: authorities, or an authority's wards and itself."""
    if where.area is None:
        return all_authorities()
    if where.area.level == "ward":
        return [where.area]
    return [*wards_of(where.area.code), where.area]


def all_authorities() -> list[Area]:
    """Every local authority, by name."""
    rows = db.session.execute(
        sa.select(LocalAuthority.code, LocalAuthority.name).order_by(LocalAuthority.name)
    )
    return [Area(code, name, "local_authority", None, code) for code, name in rows]


def wards_of(authority_code: str | None = None) -> list[Area]:
    """The wards of one authority (or all), by name."""
    query = sa.select(Ward.code, Ward.name, Ward.local_authority_code).order_by(
        Ward.name, Ward.code
    )
    if authority_code is not None:
        query = query.where(Ward.local_authority_code == authority_code)
    return [Area(code, name, "ward", code, la) for code, name, la in db.session.execute(query)]


# --- demand reduction -----------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRef:
    code: str
    name: str
    group: str


def categories_by_id() -> dict[Any, CategoryRef]:
    """Every category (active or not: old reports keep theirs), by id; read once a request."""
    if _CATEGORIES not in g:
        rows = db.session.execute(
            sa.select(Category.id, Category.code, Category.name, Category.group)
        )
        setattr(g, _CATEGORIES, {id_: CategoryRef(c, n, grp) for id_, c, n, grp in rows})
    return getattr(g, _CATEGORIES)


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
            *_by_quarter(rollup),
            rollup.category_id,
            rollup.channel,
            rollup.destination_kind,
            sa.func.sum(rollup.count),
        )
        .where(span.where(period), in_area(rollup, area))
        .group_by(*_by_quarter(rollup), rollup.category_id, rollup.channel, rollup.destination_kind)
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
        sa.select(*_by_quarter(answers), answers.answer, sa.func.sum(answers.count))
        .where(span.where(answers.month), in_area(answers, area))
        .group_by(*_by_quarter(answers), answers.answer)
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
    return float(current_app.config["CALL_HANDLER_MINUTES_PER_CALL"])


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


# --- feedback and complaints ----------------------------------------------------------------


def feedback_by_quarter(span: Span, *, area: Area | None = None) -> dict[Quarter, Counter[str]]:
    """Compliments, suggestions and expressions of dissatisfaction per quarter (one query)."""
    rollup = FeedbackRollup
    query = (
        sa.select(*_by_quarter(rollup), rollup.kind, sa.func.sum(rollup.count))
        .where(span.where(rollup.month), in_area(rollup, area))
        .group_by(*_by_quarter(rollup), rollup.kind)
    )
    found: dict[Quarter, Counter[str]] = defaultdict(Counter)
    for year, number, kind, count in db.session.execute(query):
        found[Quarter(year, number)][kind] += int(count or 0)
    return found


def allegations_by_quarter(span: Span) -> dict[Quarter, Counter[str]]:
    """Allegations per quarter recorded and PCC-report group (force-wide: they have no area)."""
    rollup = AllegationRollup
    query = (
        sa.select(*_by_quarter(rollup), rollup.group, sa.func.sum(rollup.count))
        .where(span.where(rollup.month))
        .group_by(*_by_quarter(rollup), rollup.group)
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
            *_by_quarter(cases),
            cases.escalated,
            cases.recovered,
            cases.contacted,
            sa.func.sum(cases.count),
        )
        .where(span.where(cases.month))
        .group_by(*_by_quarter(cases), cases.escalated, cases.recovered, cases.contacted)
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
        sa.select(*_by_quarter(answers), answers.score, sa.func.sum(answers.count))
        .where(span.where(answers.month))
        .group_by(*_by_quarter(answers), answers.score)
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


# --- most common issues ---------------------------------------------------------------------


def common_issues(
    span: Span, *, area: Area | None = None, level: str = "local_authority", limit: int = 10
) -> dict[str, Any]:
    """The most common categories, and reports per area by outcome and destination (two
    queries)."""
    rollup, period = report_rollup(area, by_ward=level == "ward")
    inside = (span.where(period), in_area(rollup, area))
    categories = categories_by_id()
    counts = db.session.execute(
        sa.select(rollup.category_id, sa.func.sum(rollup.count))
        .where(*inside)
        .group_by(rollup.category_id)
    ).all()
    total = sum(int(count or 0) for _, count in counts)
    ranked = sorted(
        (
            (categories.get(id_, CategoryRef(str(id_), str(id_), "")), int(count or 0))
            for id_, count in counts
        ),
        key=lambda item: (-item[1], item[0].name),
    )
    key = rollup.ward_code if level == "ward" else rollup.local_authority_code
    areas = db.session.execute(
        sa.select(key, rollup.outcome, rollup.destination_kind, sa.func.sum(rollup.count))
        .where(*inside)
        .group_by(key, rollup.outcome, rollup.destination_kind)
    ).all()
    return {
        "total": total,
        "categories": [
            {
                "code": ref.code,
                "name": ref.name,
                "group": ref.group,
                "count": count,
                "share_percent": percent(count, total),
            }
            for ref, count in ranked[:limit]
        ],
        **_issues_by_area(areas, _issue_areas(area, level)),
    }


def _issue_areas(area: Area | None, level: str) -> list[Area]:
    if level == "local_authority":
        if area is None:
            return all_authorities()
        return [a for a in all_authorities() if a.code == area.local_authority_code]
    if area is None:
        return wards_of()
    if area.level == "ward":
        return [area]
    return wards_of(area.code)


def _issues_by_area(rows: Iterable[Any], areas: Sequence[Area]) -> dict[str, Any]:
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    destinations: dict[str, Counter[str]] = defaultdict(Counter)
    without_area = 0
    for code, outcome, destination, count in rows:
        count = int(count or 0)
        if code == NONE:
            without_area += count
            continue
        outcomes[code][outcome or NO_OUTCOME] += count
        destinations[code][destination] += count
    items = [
        {
            **area_out(area),
            "count": sum(outcomes[area.code].values()),
            "outcomes": _most_first(outcomes[area.code]),
            "destinations": _most_first(destinations[area.code]),
        }
        for area in areas
    ]
    items.sort(key=lambda item: (-item["count"], item["name"]))
    return {"by_area": items, "without_area": without_area}


def _most_first(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def issues(where: Filters, *, level: str = "local_authority", limit: int = 10) -> dict[str, Any]:
    """The most common categories over the range, and outcomes and destinations by area."""
    return {
        **where.echo(),
        "level": level,
        **common_issues(where.span, area=where.area, level=level, limit=limit),
    }


# --- partner performance --------------------------------------------------------------------


@dataclass
class Histogram:
    """Referral times of one partner and milestone: count and seconds per duration bucket."""

    counts: dict[int, int] = field(default_factory=dict)
    seconds: dict[int, int] = field(default_factory=dict)

    def add(self, bucket: int, count: int, seconds: int) -> None:
        self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.seconds[bucket] = self.seconds.get(bucket, 0) + seconds

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def median(self) -> int | None:
        """The median estimated from the buckets: linear interpolation inside the bucket that
        holds it; in the open last bucket, that bucket's mean."""
        n = self.n
        if n <= 0:
            return None
        target, below = n / 2, 0
        for bucket in sorted(self.counts):
            count = self.counts[bucket]
            if count <= 0 or below + count < target:
                below += count
                continue
            upper = DURATION_BUCKETS[bucket]
            if upper is None:
                return round(self.seconds[bucket] / count)
            lower = DURATION_BUCKETS[bucket - 1] if bucket else 0
            return round(lower + (target - below) / count * (upper - lower))
        return None


@dataclass
class PartnerTimes:
    sent: int = 0
    acknowledged: Histogram = field(default_factory=Histogram)
    resolved: Histogram = field(default_factory=Histogram)


def partner_performance(span: Span) -> list[dict[str, Any]]:
    """Per partner with referrals sent in the span: sent, acknowledged, resolved and the median
    times (estimated from the rollup's histogram), most referrals first. Two queries."""
    rollup = ReferralRollup
    query = (
        sa.select(
            rollup.partner_id,
            rollup.milestone,
            rollup.bucket,
            sa.func.sum(rollup.count),
            sa.func.sum(rollup.total_seconds),
        )
        .where(span.where(rollup.month))
        .group_by(rollup.partner_id, rollup.milestone, rollup.bucket)
    )
    times: dict[Any, PartnerTimes] = defaultdict(PartnerTimes)
    for partner_id, milestone, bucket, count, seconds in db.session.execute(query):
        partner = times[partner_id]
        if milestone == "sent":
            partner.sent += int(count or 0)
        else:
            getattr(partner, milestone).add(bucket, int(count or 0), int(seconds or 0))
    partners = {
        row.id: row
        for row in db.session.execute(
            sa.select(Partner.id, Partner.code, Partner.name, Partner.kind).where(
                Partner.id.in_(list(times))
            )
        )
    }
    rows = [
        {
            "code": partners[id_].code,
            "name": partners[id_].name,
            "kind": partners[id_].kind,
            "sent": found.sent,
            "acknowledged": found.acknowledged.n,
            "resolved": found.resolved.n,
            "median_seconds_to_acknowledge": found.acknowledged.median(),
            "median_seconds_to_resolve": found.resolved.median(),
        }
        for id_, found in times.items()
        if id_ in partners and (found.sent or found.acknowledged.n or found.resolved.n)
    ]
    rows.sort(key=lambda row: (-row["sent"], row["name"]))
    return rows


def partners(where: Filters) -> dict[str, Any]:
    """Referrals sent in the range per partner, and how many and how fast were acknowledged
    and resolved."""
    return {**where.echo(), "partners": partner_performance(where.span)}
