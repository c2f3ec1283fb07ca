"""Render the Commissioner's quarterly report dict as tidy CSV or as a printable HTML page.

Both outputs come from one view of the report (``report_cells``): every number of the dict becomes
a ``Cell`` keyed by (section, measure, breakdown, quarter), so the CSV and the HTML tables cannot
disagree about what a number is or where it belongs. Numbers keep their JSON spelling
(``format_number``: 45.0 stays 45.0) in the CSV and in each HTML cell's ``data-value``; the
visible text (``display_value``) adds thousands separators, units and signs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from copa.pcc_report import charts
from copa.periods import fiscal_year_label

CSV_HEADER = ("section", "measure", "breakdown", "quarter", "value")
NULL_TEXT = "–"  # an en dash, as the seed report shows an empty or unreported figure

_env = Environment(
    loader=PackageLoader("copa.pcc_report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


# ---------------------------------------------------------------------------------------------
# Formatting


def format_number(value: int | float | None) -> str:
    """A number exactly as the JSON spells it (ints stay ints, 45.0 stays 45.0); None is ""."""
    if value is None:
        return ""
    return json.dumps(value)


def display_value(value: int | float | None, kind: str = "count") -> str:
    """The visible text of a figure: "1,000", "45.0%", "+16.7 pts", "95 s", "1.5 h"; None is "–".

    ``kind`` is one of count, percent, points, signed_percent, signed_points, seconds,
    signed_seconds, hours (seconds shown as hours with one decimal).
    """
    if value is None:
        return NULL_TEXT
    formats = {
        "count": "{:,}",
        "percent": "{:,}%",
        "points": "{:+,}",
        "signed_percent": "{:+,}%",
        "signed_points": "{:+,} pts",
        "seconds": "{:,} s",
        "signed_seconds": "{:+,} s",
    }
    if kind == "hours":
        return f"{value / 3600:,.1f} h"
    return formats[kind].format(value)


# ---------------------------------------------------------------------------------------------
# The view: every number as a Cell, arranged in tables


@dataclass(frozen=True)
class Cell:
    """One number of the report at its (section, measure, breakdown, quarter)."""

    section: str
    measure: str
    breakdown: str
    quarter: str
    value: int | float | None
    kind: str = "count"

    @property
    def raw(self) -> str:
        return format_number(self.value)

    @property
    def text(self) -> str:
        return display_value(self.value, self.kind)


@dataclass(frozen=True)
class Measure:
    """A row of a quarter table: where its number sits in a quarter row, and how it is named."""

    measure: str
    breakdown: str
    label: str
    path: tuple[str, ...]
    kind: str = "count"


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[Cell]
    detail: str | None = None  # a text column before the figures (a partner's kind)


@dataclass(frozen=True)
class RowGroup:
    label: str | None
    rows: list[Row]


@dataclass(frozen=True)
class QuarterColumn:
    label: str
    short: str
    reported: bool


@dataclass(frozen=True)
class QuarterTable:
    """Rows are measures, columns the eight quarters grouped by year (the seed report's layout)."""

    caption: str
    years: list[tuple[str, int]]
    quarters: list[QuarterColumn]
    groups: list[RowGroup]
    layout: str = "quarters"


@dataclass(frozen=True)
class ItemTable:
    """Rows are items (categories, areas, partners) of one quarter, columns their measures."""

    caption: str
    quarter: str
    item_heading: str
    columns: list[str]
    rows: list[Row]
    detail_heading: str | None = None
    layout: str = "items"


@dataclass(frozen=True)
class Figure:
    caption: str
    svg: Markup


@dataclass
class Section:
    key: str
    heading: str
    intro: list[str]
    tables: list[QuarterTable | ItemTable] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class ReportView:
    title: str
    organisation: str
    quarter: str
    generated_at: str
    generated_text: str
    caveats: list[str]
    context: Mapping[str, Any]
    loose: dict[str, Cell]  # figures shown in prose: the survey context, minutes per call
    sections: list[Section]


def report_cells(report: Mapping[str, Any]) -> Iterator[Cell]:
    """Every number of the report as a Cell, in the order the CSV writes them."""
    view = _view(report)
    for section in view.sections:
        for table in section.tables:
            for row in _rows(table):
                yield from row.cells
    yield from view.loose.values()


# ---------------------------------------------------------------------------------------------
# Public renderers


def report_csv(report: Mapping[str, Any]) -> str:
    """Tidy CSV (RFC 4180, CRLF): caveats first, then one row per number of the report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for caveat in report.get("caveats") or []:
        writer.writerow(("notes", "caveat", "", "", caveat))
    writer.writerow(("notes", "report_quarter", "", report["quarter"]["label"], ""))
    for cell in report_cells(report):
        writer.writerow((cell.section, cell.measure, cell.breakdown, cell.quarter, cell.raw))
    return buffer.getvalue()


def report_html(report: Mapping[str, Any]) -> str:
    """A complete, printable, self-contained HTML5 page of the report, with SVG charts."""
    return _env.get_template("pcc_report.html").render(view=_view(report))


# ---------------------------------------------------------------------------------------------
# Building the view


def _view(report: Mapping[str, Any]) -> ReportView:
    confidence = report["public_confidence"]
    context = confidence.get("context") or {}
    loose = {
        "cleveland_percent": _loose(
            "public_confidence", "context.cleveland_percent", context, "cleveland_percent"
        ),
        "national_percent": _loose(
            "public_confidence", "context.national_percent", context, "national_percent"
        ),
        "minutes_per_call": _loose(
            "demand_reduction", "minutes_per_call", report["demand_reduction"], "minutes_per_call"
        ),
    }
    return ReportView(
        title=report["title"],
        organisation=report["organisation"],
        quarter=report["quarter"]["label"],
        generated_at=report.get("generated_at") or "",
        generated_text=_readable_time(report.get("generated_at")),
        caveats=list(report.get("caveats") or []),
        context=context,
        loose=loose,
        sections=[
            _confidence_section(report),
            _demand_section(report),
            _complaints_section(report),
            _issues_section(report),
            _partners_section(report),
        ],
    )


def _loose(section: str, measure: str, source: Mapping[str, Any], key: str) -> Cell:
    kind = "percent" if measure.endswith("_percent") else "count"
    return Cell(section, measure, "", "", source.get(key), kind)


def _confidence_section(report: Mapping[str, Any]) -> Section:
    data = report["public_confidence"]
    rows = data["quarters"]
    options = data["options"]
    groups = [
        ("", [Measure("n", "", "Answers (n)", ("n",))]),
        (
            "Answers by option",
            [Measure("count", o["key"], o["label"], ("counts", o["key"])) for o in options],
        ),
        (
            "Answers by channel",
            [
                Measure("channel", key, label, ("channels", key))
                for key, label in _keys(
                    rows, "channels", {"app": "App votes", "event": "Event counters"}
                )
            ],
        ),
        (
            "Confidence",
            [
                Measure("percent_confident", "", "% confident", ("percent_confident",), "percent"),
                Measure(
                    "interval_lower", "", "95% interval: lower", ("interval", "lower"), "percent"
                ),
                Measure(
                    "interval_upper", "", "95% interval: upper", ("interval", "upper"), "percent"
                ),
                Measure(
                    "net_confidence", "", "Net confidence (points)", ("net_confidence",), "points"
                ),
            ],
        ),
    ]
    return Section(
        key="public_confidence",
        heading="Public confidence",
        intro=[
            f"The question: “{data['question']}” Answers come from app votes and from counters "
            "dropped into tubes at community events.",
            "% confident is quite or very confident out of all answers (“neither” stays in the "
            "denominator), with its 95% Wilson interval; net confidence is % confident minus % "
            "not confident, in percentage points.",
        ],
        tables=[
            _quarter_table(
                report, "public_confidence", "Public confidence by quarter", rows, groups
            )
        ],
        figures=[
            Figure(
                "Answers by option, as a share of each quarter's answers.",
                Markup(charts.confidence_distribution(rows, options)),
            ),
            Figure(
                "% confident per quarter with its 95% interval.",
                Markup(charts.confidence_trend(rows)),
            ),
        ],
    )


def _demand_section(report: Mapping[str, Any]) -> Section:
    rows = report["demand_reduction"]["quarters"]
    answer_labels = {"yes": "Yes", "no": "No", "not_sure": "Not sure", "unanswered": "Not answered"}
    kind_labels = {
        "report": "Reports",
        "question": "Questions",
        "feedback": "Feedback",
        "total": "Total",
    }
    groups = [
        (
            "Submissions through the app",
            [
                Measure("submissions", k, label, ("submissions", k))
                for k, label in _keys(rows, "submissions", kind_labels)
            ],
        ),
        (
            "Demand diverted",
            [
                Measure(
                    "referred_to_partners",
                    "",
                    "Referred straight to a partner",
                    ("referred_to_partners",),
                )
            ],
        ),
        (
            "“Would you otherwise have phoned 101?”",
            [
                Measure("would_have_called_101", k, label, ("would_have_called_101", k))
                for k, label in _keys(rows, "would_have_called_101", answer_labels)
            ],
        ),
        (
            "Estimated effect",
            [
                Measure("calls_avoided", "", "Estimated 101 calls avoided", ("calls_avoided",)),
                Measure("minutes_saved", "", "Call-handler minutes saved", ("minutes_saved",)),
            ],
        ),
        (
            "101 call statistics",
            [
                Measure(
                    "call_statistics.non_emergency_calls",
                    "",
                    "Non-emergency (non-999) calls",
                    ("call_statistics", "non_emergency_calls"),
                ),
                Measure(
                    "call_statistics.answered_within_2_minutes_percent",
                    "",
                    "Answered within 2 minutes",
                    ("call_statistics", "answered_within_2_minutes_percent"),
                    "percent",
                ),
                Measure(
                    "call_statistics.average_wait_seconds",
                    "",
                    "Average wait",
                    ("call_statistics", "average_wait_seconds"),
                    "seconds",
                ),
            ],
        ),
        (
            "Change against the same quarter of the baseline year",
            [
                Measure(
                    "change_against_baseline.non_emergency_calls_percent",
                    "",
                    "Non-emergency calls",
                    ("change_against_baseline", "non_emergency_calls_percent"),
                    "signed_percent",
                ),
                Measure(
                    "change_against_baseline.answered_within_2_minutes_points",
                    "",
                    "Answered within 2 minutes",
                    ("change_against_baseline", "answered_within_2_minutes_points"),
                    "signed_points",
                ),
                Measure(
                    "change_against_baseline.average_wait_seconds",
                    "",
                    "Average wait",
                    ("change_against_baseline", "average_wait_seconds"),
                    "signed_seconds",
                ),
            ],
        ),
    ]
    return Section(
        key="demand_reduction",
        heading="Demand reduction",
        intro=[
            "Estimated 101 calls avoided are the submissions whose sender answered “yes” to "
            "“Would you otherwise have phoned 101?”; call-handler minutes saved are those calls "
            "times the minutes per call.",
            "101 call statistics are imported by staff each quarter; a dash means none were imported.",
            "Click-throughs are taps on the app's links to other services (signposts) and visits "
            "through its /go/ links; one resident may tap more than once. Shares are of all "
            "click-throughs of the quarter.",
        ],
        tables=[
            _quarter_table(report, "demand_reduction", "Demand reduction by quarter", rows, groups),
            *_click_through_tables(report),
        ],
        figures=[
            Figure(
                "App submissions and estimated 101 calls avoided per quarter.",
                Markup(charts.demand(rows)),
            ),
            Figure(
                "Click-throughs to other services per quarter, by topic.",
                Markup(charts.click_throughs(rows, report["demand_reduction"].get("topics") or [])),
            ),
        ],
    )


def _click_through_tables(report: Mapping[str, Any]) -> list[QuarterTable | ItemTable]:
    """Click-throughs by quarter (topic and destination kind, count and share, change against
    the baseline), and the reported quarter's per signpost."""
    data = report["demand_reduction"]
    rows = data["quarters"]
    clicks = ("click_throughs",)

    def breakdown(key: str, options: Sequence[Mapping[str, str]], figure: str) -> list[Measure]:
        kind = "percent" if figure == "share_percent" else "count"
        return [
            Measure(
                f"click_throughs.{key}.{figure}",
                o["key"],
                o["label"],
                (*clicks, key, o["key"], figure),
                kind,
            )
            for o in options
        ]

    topics, kinds = data.get("topics") or [], data.get("destination_kinds") or []
    groups = [
        ("", [Measure("click_throughs.total", "", "All click-throughs", (*clicks, "total"))]),
        ("By topic", breakdown("by_topic", topics, "count")),
        ("Share by topic", breakdown("by_topic", topics, "share_percent")),
        ("By destination", breakdown("by_destination_kind", kinds, "count")),
        ("Share by destination", breakdown("by_destination_kind", kinds, "share_percent")),
        (
            "Change against the same quarter of the baseline year",
            [
                Measure(
                    "click_throughs.change_against_baseline.total_baseline",
                    "",
                    "Click-throughs in the baseline quarter",
                    (*clicks, "change_against_baseline", "total_baseline"),
                ),
                Measure(
                    "click_throughs.change_against_baseline.total_change_percent",
                    "",
                    "Change in click-throughs",
                    (*clicks, "change_against_baseline", "total_change_percent"),
                    "signed_percent",
                ),
            ],
        ),
    ]
    by_signpost = data.get("click_throughs_by_signpost") or {}
    quarter = (by_signpost.get("quarter") or report["quarter"])["label"]
    measures = [
        ("count", "count"),
        ("share_percent", "percent"),
        ("baseline_count", "count"),
        ("change_percent", "signed_percent"),
    ]
    signposts = [
        Row(
            s["title"],
            [
                Cell(
                    "demand_reduction",
                    f"click_throughs_by_signpost.{key}",
                    s["code"],
                    quarter,
                    s.get(key),
                    kind,
                )
                for key, kind in measures
            ],
            detail=s.get("organisation") or "",
        )
        for s in by_signpost.get("signposts") or []
    ]
    return [
        _quarter_table(
            report, "demand_reduction", "Click-throughs to other services by quarter", rows, groups
        ),
        ItemTable(
            f"Click-throughs by signpost, {quarter}",
            quarter,
            "Signpost",
            ["Click-throughs", "Share", "Same quarter, baseline year", "Change"],
            signposts,
            detail_heading="Organisation",
        ),
    ]


def _complaints_section(report: Mapping[str, Any]) -> Section:
    data = report["feedback_and_complaints"]
    rows = data["quarters"]
    groups = [
        ("", [Measure("complaints_logged", "", "Complaints logged", ("complaints_logged",))]),
        (
            "Allegations",
            [
                Measure("allegations", g["key"], g["label"], ("allegations", g["key"]))
                for g in data["allegation_groups"]
            ],
        ),
        (
            "Handling",
            [
                Measure("escalated", "", "Escalated (Schedule 3)", ("escalated",)),
                Measure("service_recovery", "", "Service recovery", ("service_recovery",)),
                Measure(
                    "median_time_to_first_contact_seconds",
                    "",
                    "Median time to first contact",
                    ("median_time_to_first_contact_seconds",),
                    "hours",
                ),
            ],
        ),
        (
            "Complainant satisfaction",
            [
                Measure("satisfaction.answers", "", "Answers", ("satisfaction", "answers")),
                Measure("satisfaction.satisfied", "", "Satisfied", ("satisfaction", "satisfied")),
                Measure(
                    "satisfaction.rate_percent",
                    "",
                    "Satisfaction rate",
                    ("satisfaction", "rate_percent"),
                    "percent",
                ),
            ],
        ),
        (
            "Other feedback",
            [
                Measure("compliments", "", "Compliments", ("compliments",)),
                Measure("suggestions", "", "Suggestions", ("suggestions",)),
            ],
        ),
    ]
    return Section(
        key="feedback_and_complaints",
        heading="Feedback and complaints",
        intro=[
            "Every expression of dissatisfaction is logged as a complaint by the OPCC's "
            "Resolution Team; allegations are grouped as in the seed performance report. Times "
            "are shown in hours.",
        ],
        tables=[
            _quarter_table(
                report,
                "feedback_and_complaints",
                "Feedback and complaints by quarter",
                rows,
                groups,
            )
        ],
    )


def _issues_section(report: Mapping[str, Any]) -> Section:
    data = report["most_common_issues"]
    quarter = data["quarter"]["label"]
    section = "most_common_issues"
    categories = data.get("categories") or []
    areas = data.get("by_local_authority") or []
    outcomes = _outcome_keys(areas)
    category_rows = [
        Row(
            c["name"],
            [
                Cell(section, "count", c["code"], quarter, c.get("count")),
                Cell(
                    section, "share_percent", c["code"], quarter, c.get("share_percent"), "percent"
                ),
            ],
        )
        for c in categories
    ]
    area_rows = [
        Row(
            a["name"],
            [Cell(section, "local_authority_count", a["code"], quarter, a.get("count"))]
            + [
                Cell(
                    section,
                    "outcome",
                    f"{a['code']}:{key}",
                    quarter,
                    (a.get("outcomes") or {}).get(key),
                )
                for key in outcomes
            ],
        )
        for a in areas
    ]
    return Section(
        key=section,
        heading="Most common issues",
        intro=[
            f"What residents reported through the app in {quarter}: the ten most common categories."
        ],
        tables=[
            ItemTable(
                f"Most common issues, {quarter}",
                quarter,
                "Category",
                ["Submissions", "Share"],
                category_rows,
            ),
            ItemTable(
                f"Submissions by local authority and what happened to them, {quarter}",
                quarter,
                "Local authority",
                ["Submissions"] + [_humanise(key) for key in outcomes],
                area_rows,
            ),
        ],
        figures=[Figure(f"Most common issues, {quarter}.", Markup(charts.top_issues(categories)))],
    )


def _partners_section(report: Mapping[str, Any]) -> Section:
    data = report["partner_performance"]
    quarter = data["quarter"]["label"]
    section = "partner_performance"
    measures = [
        ("sent", "Referrals sent", "count"),
        ("acknowledged", "Acknowledged", "count"),
        ("resolved", "Resolved", "count"),
        ("median_seconds_to_acknowledge", "Median time to acknowledge", "hours"),
        ("median_seconds_to_resolve", "Median time to resolve", "hours"),
    ]
    rows = [
        Row(
            p["name"],
            [Cell(section, key, p["code"], quarter, p.get(key), kind) for key, _, kind in measures],
            detail=_humanise(p.get("kind") or ""),
        )
        for p in data.get("partners") or []
    ]
    return Section(
        key=section,
        heading="Partner performance",
        intro=[f"Referrals sent to partners in {quarter}; median times are shown in hours."],
        tables=[
            ItemTable(
                f"Partner performance, {quarter}",
                quarter,
                "Partner",
                [label for _, label, _ in measures],
                rows,
                detail_heading="Kind",
            )
        ],
    )


def _quarter_table(
    report: Mapping[str, Any],
    section: str,
    caption: str,
    rows: Sequence[Mapping[str, Any]],
    groups: Sequence[tuple[str, Sequence[Measure]]],
) -> QuarterTable:
    return QuarterTable(
        caption=caption,
        years=_year_groups(report, rows),
        quarters=[
            QuarterColumn(r["label"], f"Q{r['quarter']}", bool(r.get("reported", True)))
            for r in rows
        ],
        groups=[
            RowGroup(
                label or None,
                [
                    Row(
                        m.label,
                        [
                            Cell(
                                section, m.measure, m.breakdown, r["label"], _dig(r, m.path), m.kind
                            )
                            for r in rows
                        ],
                    )
                    for m in measures
                ],
            )
            for label, measures in groups
        ],
    )


def _year_groups(
    report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """Consecutive quarters of one financial year share a header cell: [(label, span)]."""
    names = {
        report["baseline_year"]["fiscal_year"]: f"{report['baseline_year']['label']} (baseline)",
        report["current_year"]["fiscal_year"]: report["current_year"]["label"],
    }
    years: list[tuple[str, int]] = []
    previous = None
    for row in rows:
        year = row["fiscal_year"]
        if year == previous:
            years[-1] = (years[-1][0], years[-1][1] + 1)
        else:
            years.append((names.get(year, fiscal_year_label(year)), 1))
        previous = year
    return years


def _rows(table: QuarterTable | ItemTable) -> Iterator[Row]:
    if isinstance(table, QuarterTable):
        for group in table.groups:
            yield from group.rows
    else:
        yield from table.rows


def _dig(row: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path``, or None when any step is null or missing (an unreported quarter)."""
    value: Any = row
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _keys(
    rows: Sequence[Mapping[str, Any]], field_name: str, known: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The known breakdown keys in order, then any others the rows carry, so no number is lost."""
    keys = dict(known)
    for row in rows:
        for key in row.get(field_name) or {}:
            keys.setdefault(key, _humanise(key))
    return list(keys.items())


def _outcome_keys(areas: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for area in areas:
        keys.update(dict.fromkeys(area.get("outcomes") or {}))
    return list(keys)


def _humanise(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").capitalize()


def _readable_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = f" {moment.tzname()}" if moment.tzinfo else ""
    return f"{moment.day} {moment:%B %Y, %H:%M}{zone}"
