"""The report's demand reduction section: app submissions, 101 calls avoided and click-throughs.

``demand_section`` reads ``demand_reduction`` of the report dict and returns its ``Section``: the
quarter table of submissions, answers to "would you otherwise have phoned 101?", the estimated
calls avoided and minutes saved and the imported 101 call statistics; the click-through tables
(by topic and destination kind per quarter, and per signpost for the reported quarter); and the
demand and click-through charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from copa.pcc_report import charts
from copa.pcc_report.tables import breakdown_keys, quarter_table
from copa.pcc_report.view_model import Cell, Figure, ItemTable, Measure, QuarterTable, Row, Section


def demand_section(report: Mapping[str, Any]) -> Section:
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
                for k, label in breakdown_keys(rows, "submissions", kind_labels)
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
                for k, label in breakdown_keys(rows, "would_have_called_101", answer_labels)
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
            quarter_table(report, "demand_reduction", "Demand reduction by quarter", rows, groups),
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
        quarter_table(
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
