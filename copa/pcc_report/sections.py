"""The report's sections on confidence, complaints, the most common issues and partners.

Each builder reads its part of the report dict and returns a ``Section``: the heading, the
explanatory paragraphs, its tables (every number as a ``Cell``) and its SVG figures. The demand
reduction section, the largest, is built in ``demand_section``; ``render`` puts the sections in
the order of the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from copa.pcc_report import charts
from copa.pcc_report.tables import breakdown_keys, humanise, outcome_keys, quarter_table
from copa.pcc_report.view_model import Cell, Figure, ItemTable, Measure, Row, Section


def confidence_section(report: Mapping[str, Any]) -> Section:
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
                for key, label in breakdown_keys(
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
            quarter_table(report, "public_confidence", "Public confidence by quarter", rows, groups)
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


def complaints_section(report: Mapping[str, Any]) -> Section:
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
            quarter_table(
                report,
                "feedback_and_complaints",
                "Feedback and complaints by quarter",
                rows,
                groups,
            )
        ],
    )


def issues_section(report: Mapping[str, Any]) -> Section:
    data = report["most_common_issues"]
    quarter = data["quarter"]["label"]
    section = "most_common_issues"
    categories = data.get("categories") or []
    areas = data.get("by_local_authority") or []
    outcomes = outcome_keys(areas)
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
                ["Submissions"] + [humanise(key) for key in outcomes],
                area_rows,
            ),
        ],
        figures=[Figure(f"Most common issues, {quarter}.", Markup(charts.top_issues(categories)))],
    )


def partners_section(report: Mapping[str, Any]) -> Section:
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
            detail=humanise(p.get("kind") or ""),
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


def targets_section(report: Mapping[str, Any]) -> Section:
    data = report["within_target"]
    rows = data["quarters"]
    names = (
        ("reports", "Reports first acted on"),
        ("complaints", "Complainants first contacted"),
        ("referrals", "Referrals acknowledged by partners"),
    )
    groups = [
        (
            label,
            [
                Measure(f"{key}.counted", "", "Counted", (key, "counted")),
                Measure(f"{key}.handled", "", "Handled", (key, "handled")),
                Measure(f"{key}.within_target", "", "Within target", (key, "within_target")),
                Measure(
                    f"{key}.percent_within_target",
                    "",
                    "Share within target",
                    (key, "percent_within_target"),
                    "percent",
                ),
            ],
        )
        for key, label in names
    ]
    return Section(
        key="within_target",
        heading="Handled within target",
        intro=[
            "The first action is the first status change by staff or a partner, a partner's "
            "acknowledgement or a message to the resident. Counted: items begun in the quarter "
            "that were handled, or are still waiting after their due time (missed). Counts "
            "below 5 are not shown (–).",
        ],
        tables=[
            quarter_table(report, "within_target", "Handled within target by quarter", rows, groups)
        ],
    )
