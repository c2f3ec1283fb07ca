"""Assembling the Commissioner's quarterly report to the Police and Crime Panel.

The report is one dict (its contract: ``copa.pcc_report.schemas.PccReportOut``; the CSV and
HTML renderers read the same dict): five sections, each with the baseline year's four quarters
beside the current year's, as the seed performance report lays its tables out. Every number
comes from the same functions as the metrics API (``copa.metrics``), each section from
one query grouped by financial quarter over both years, so the report stays fast over millions
of votes and reports and agrees with the API to the last digit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from copa.confidence.service import OPTIONS, QUESTION
from copa.db import utcnow
from copa.feedback.models import AllegationGroup
from copa.metrics import click_throughs as clicks
from copa.metrics import complaints as complaint_measures
from copa.metrics import confidence as confidence_measures
from copa.metrics import demand as demand_measures
from copa.metrics import targets as target_measures
from copa.metrics.issues import common_issues
from copa.metrics.lookups import categories_by_id
from copa.metrics.partners import partner_performance
from copa.metrics.ranges import MonthRange, Span, one_decimal, percent, quarter_out
from copa.periods import Quarter, fiscal_year_label
from copa.web.problems import Unprocessable

TITLE = "COPA quarterly performance report"
ORGANISATION = "Office of the Police and Crime Commissioner for Cleveland"
# Shown beside the counter's figures; a survey, not a vote (DOMAIN.md "Public confidence").
SURVEY_CONTEXT = {
    "source": "Crime Survey for England and Wales, March 2020",
    "cleveland_percent": 69,
    "national_percent": 75,
}
ALLEGATION_LABELS = {
    AllegationGroup.DELIVERY_OF_DUTIES: "Delivery of duties and services",
    AllegationGroup.POLICE_POWERS: "Police powers, policies and procedures",
    AllegationGroup.INDIVIDUAL_BEHAVIOUR: "Individual behaviour",
    AllegationGroup.OTHER: "All other complaints",
}
TOP_ISSUES = 10

_CONFIDENCE_MEASURES = (
    "n",
    "counts",
    "channels",
    "percent_confident",
    "interval",
    "net_confidence",
)
_DEMAND_MEASURES = (
    "submissions",
    "referred_to_partners",
    "would_have_called_101",
    "calls_avoided",
    "minutes_saved",
    "call_statistics",
    "change_against_baseline",
    "click_throughs",
)
_CALL_STATISTICS = (
    "non_emergency_calls",
    "answered_within_2_minutes_percent",
    "average_wait_seconds",
)
_FEEDBACK_MEASURES = (
    "complaints_logged",
    "allegations",
    "escalated",
    "service_recovery",
    "median_time_to_first_contact_seconds",
    "satisfaction",
    "compliments",
    "suggestions",
)


def check_period(requested: Quarter, baseline_year: int, now: datetime) -> None:
    """Refuse a quarter that has not started yet (Europe/London), or a baseline that is not an
    earlier year; 422 naming the field."""
    current = Quarter.of(now)
    if Quarter(requested.fiscal_year, 1) > current:
        raise Unprocessable(
            "That financial year has not started yet.",
            errors={"year": [f"Must not be after {current.fiscal_year}."]},
        )
    if requested > current:
        raise Unprocessable(
            f"{requested.label} has not started yet: there is nothing to report.",
            errors={"quarter": [f"{requested.label} has not started yet."]},
        )
    if baseline_year >= requested.fiscal_year:
        raise Unprocessable(
            "The baseline year must come before the report's year.",
            errors={"baseline_year": [f"Must be before {requested.fiscal_year}."]},
        )


def pcc_report(
    year: int, quarter: int, baseline_year: int | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The quarterly report for ``quarter`` of financial year ``year`` against ``baseline_year``
    (default: the year before): the contract of ``schemas.PccReportOut``."""
    now = now or utcnow()
    requested = Quarter(year, quarter)
    baseline = year - 1 if baseline_year is None else baseline_year
    check_period(requested, baseline, now)
    rows = [Quarter(baseline, q) for q in range(1, 5)] + [Quarter(year, q) for q in range(1, 5)]
    span = Span.of(
        MonthRange.of_quarters(rows[0], rows[3]), MonthRange.of_quarters(rows[4], requested)
    )
    this_quarter = Span.of(MonthRange.of_quarters(requested, requested))

    def reported(q: Quarter) -> bool:
        return q <= requested

    calls = demand_measures.call_statistics_by_quarter({baseline, year})
    feedback = complaint_measures.feedback_by_quarter(
        span
    )  # demand and complaints sections share it
    return {
        "title": TITLE,
        "organisation": ORGANISATION,
        "quarter": quarter_out(requested),
        "current_year": {"fiscal_year": year, "label": fiscal_year_label(year)},
        "baseline_year": {"fiscal_year": baseline, "label": fiscal_year_label(baseline)},
        "generated_at": now.replace(microsecond=0).isoformat(),
        "caveats": caveats(),
        "public_confidence": confidence_section(span, rows, reported),
        "demand_reduction": demand_section(
            span, rows, reported, calls, baseline, requested, feedback
        ),
        "feedback_and_complaints": feedback_section(span, rows, reported, feedback),
        "most_common_issues": issues_section(this_quarter, requested),
        "partner_performance": partners_section(this_quarter, requested),
        "within_target": within_target_section(span, rows, reported, now),
    }


def caveats() -> list[str]:
    """What a reader must know before comparing these figures with anything else."""
    minutes = demand_measures.default_minutes_per_call()
    return [
        confidence_measures.CAVEAT,
        "Estimated 101 calls avoided are the reports and questions whose sender said they would "
        "otherwise have phoned 101; call-handler minutes saved multiply them by the quarter's "
        "average handling time from its imported call statistics, or by "
        f"{minutes:g} minutes per call where none was imported.",
        "Allegations are counted when recorded, force-wide. Escalation, service recovery and "
        "time to first contact describe the complaint cases logged in each quarter; the "
        "satisfaction rate the answers given in it.",
        clicks.CAVEAT,
        "Partner median times are estimates from bands of elapsed time, not exact medians.",
        "Within target: reports first acted on by staff or a partner (a status change, a "
        "partner's acknowledgement or a message to the resident), complaints first contacted "
        "and referrals acknowledged within the targets in force when this report was made, "
        "counted in the quarter each began; those still waiting after their due time count as "
        f"missed. Counts below {SUPPRESS_BELOW} are not shown.",
        "Quarters of the current year after the reported one are not reported.",
    ]


def _row(
    quarter: Quarter, reported: bool, measures: Sequence[str], values: Mapping[str, Any]
) -> dict[str, Any]:
    """A quarter row: its measures, or all of them null when the quarter is not reported."""
    return {
        **quarter_out(quarter),
        "reported": reported,
        **{name: values.get(name) if reported else None for name in measures},
    }


def confidence_section(
    span: Span, rows: Sequence[Quarter], reported: Callable[[Quarter], bool]
) -> dict[str, Any]:
    """Public confidence per quarter: one query over both years."""
    found = confidence_measures.confidence_by_quarter(span)
    return {
        "question": QUESTION,
        "options": [{"key": option.key, "label": option.label} for option in OPTIONS],
        "context": dict(SURVEY_CONTEXT),
        "quarters": [
            _row(
                q,
                reported(q),
                _CONFIDENCE_MEASURES,
                found.get(q, confidence_measures.Distribution()).measures(),
            )
            for q in rows
        ],
    }


def demand_section(
    span: Span,
    rows: Sequence[Quarter],
    reported: Callable[[Quarter], bool],
    calls: Mapping[Quarter, Any],
    baseline_year: int,
    requested: Quarter,
    feedback: Mapping[Quarter, Counter[str]],
) -> dict[str, Any]:
    """Demand reduction per quarter, call statistics and click-throughs compared with the
    baseline year's, and the reported quarter's click-throughs per signpost."""
    found = demand_measures.demand_by_quarter(span, feedback=feedback)
    categories = {ref.code: ref for ref in categories_by_id().values()}
    clicked = clicks.ClickThroughs(span)
    topics = clicks.topic_keys(*(c.by_topic for c in clicked.by_month.values()))
    kinds = clicks.destination_kind_keys(
        *(c.by_destination_kind for c in clicked.by_month.values())
    )
    quarters = []
    for q in rows:
        values = demand_measures.demand_row(
            q, found.get(q, demand_measures.QuarterDemand()), calls, baseline_year, categories
        )
        stats = values["call_statistics"]
        values["call_statistics"] = stats and {key: stats[key] for key in _CALL_STATISTICS}
        measures = _click_measures(clicked, q, baseline_year)
        values["click_throughs"] = _click_row(measures, topics, kinds)
        if q.fiscal_year == baseline_year:  # the baseline against itself
            values["change_against_baseline"] = None
            values["click_throughs"]["change_against_baseline"] = None
        quarters.append(_row(q, reported(q), _DEMAND_MEASURES, values))
    return {
        "minutes_per_call": one_decimal(demand_measures.minutes_per_call(calls.get(requested))),
        "topics": [{"key": key, "label": clicks.topic_label(key)} for key in topics],
        "destination_kinds": [
            {"key": key, "label": clicks.destination_kind_label(key)} for key in kinds
        ],
        "quarters": quarters,
        "click_throughs_by_signpost": {
            "quarter": quarter_out(requested),
            "signposts": _click_measures(clicked, requested, baseline_year)["by_signpost"],
        },
    }


def _click_measures(clicked: clicks.ClickThroughs, q: Quarter, baseline_year: int) -> dict:
    """A quarter's click-throughs against the same quarter of the baseline year."""
    return clicked.measures(clicked.quarter(q), clicked.quarter(Quarter(baseline_year, q.quarter)))


def _click_row(
    measures: Mapping[str, Any], topics: Sequence[str], kinds: Sequence[str]
) -> dict[str, Any]:
    """A quarter row's click-throughs: every topic and destination kind (0 when none), each
    with its share of the quarter's click-throughs, and the change against the baseline."""
    total = measures["total"]

    def every(items: Sequence[Mapping[str, Any]], key: str, keys: Sequence[str]) -> dict:
        counts = {item[key]: item["count"] for item in items}
        return {
            k: {
                "count": counts.get(k, 0),
                "share_percent": percent(counts.get(k, 0), total),
            }
            for k in keys
        }

    return {
        "total": total,
        "by_topic": every(measures["by_topic"], "topic", topics),
        "by_destination_kind": every(measures["by_destination_kind"], "destination_kind", kinds),
        "change_against_baseline": measures["change_against_baseline"],
    }


def feedback_section(
    span: Span,
    rows: Sequence[Quarter],
    reported: Callable[[Quarter], bool],
    feedback: Mapping[Quarter, Counter[str]],
) -> dict[str, Any]:
    """Feedback and complaints per quarter."""
    found = complaint_measures.feedback_quarters(span, kinds=feedback)
    return {
        "allegation_groups": [
            {"key": group.value, "label": label} for group, label in ALLEGATION_LABELS.items()
        ],
        "quarters": [_row(q, reported(q), _FEEDBACK_MEASURES, found.row(q)) for q in rows],
    }


def issues_section(span: Span, requested: Quarter) -> dict[str, Any]:
    """The reported quarter's most common categories and its outcomes per local authority."""
    found = common_issues(span, level="local_authority", limit=TOP_ISSUES)
    return {
        "quarter": quarter_out(requested),
        "categories": [
            {key: item[key] for key in ("code", "name", "count", "share_percent")}
            for item in found["categories"]
        ],
        "by_local_authority": [
            {key: item[key] for key in ("code", "name", "count", "outcomes")}
            for item in found["by_area"]
        ],
    }


def partners_section(span: Span, requested: Quarter) -> dict[str, Any]:
    """The reported quarter's referrals per partner, with the estimated median times."""
    return {
        "quarter": quarter_out(requested),
        "partners": partner_performance(span),
    }


SUPPRESS_BELOW = 5  # the rule of aggregates shown outside the OPCC (DOMAIN.md "Privacy")


def within_target_section(
    span: Span, rows: Sequence[Quarter], reported: Callable[[Quarter], bool], now: datetime
) -> dict[str, Any]:
    """The share handled within target per quarter, small counts suppressed (a public report)."""
    found = target_measures.within_target_quarters(span.ranges, now=now)
    empty = target_measures.QuarterTallies()
    return {
        "targets": target_measures.targets_in_force(),
        "quarters": [
            _row(
                q,
                reported(q),
                target_measures.MEASURES,
                {
                    name: disclosed(target_measures.tally_out(getattr(found.get(q, empty), name)))
                    for name in target_measures.MEASURES
                },
            )
            for q in rows
        ],
    }


def disclosed(figures: Mapping[str, Any]) -> dict[str, Any]:
    """A measure's counts as the public may see them: nothing when fewer than 5 were counted;
    a part (handled, within target) withheld when it or the rest of the count is 1 to 4, so
    neither small group can be worked out; the share goes with the within-target count."""

    def small(count: int) -> bool:
        return 0 < count < SUPPRESS_BELOW

    counted = figures["counted"]
    if counted == 0:
        return {**figures, "suppressed": False}
    if counted < SUPPRESS_BELOW:
        return {**{name: None for name in figures}, "suppressed": True}
    shown = dict(figures)
    for part in ("handled", "within_target"):
        if small(figures[part]) or small(counted - figures[part]):
            shown[part] = None
    if shown["within_target"] is None:
        shown["percent_within_target"] = None
    return {**shown, "suppressed": None in shown.values()}


def report_filename(report: Mapping[str, Any], extension: str) -> str:
    """``pcc-report-2025-26-q3.csv``."""
    quarter = report["quarter"]
    year = fiscal_year_label(quarter["fiscal_year"]).replace("/", "-")
    return f"pcc-report-{year}-q{quarter['quarter']}.{extension}"
