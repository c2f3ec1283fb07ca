"""The quarterly report renderers: every number of the report dict reaches the CSV and the HTML
at its (section, measure, breakdown, quarter), the page is self-contained, and the charts draw
what the numbers say.

The report dict is built here (the JSON contract), so nothing touches the database or the app.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from copa.pcc_report import charts
from copa.pcc_report.render import report_csv, report_html
from copa.pcc_report.view_model import NULL_TEXT, format_number

SELF_SELECTED = (
    "App votes and event counters are self-selected: they show what the people who chose to "
    "answer think, and are not comparable with the Crime Survey for England and Wales."
)
SUPPRESSION = "Counts below 5, shown outside the OPCC, are suppressed."

OPTIONS = [
    {"key": "not_at_all_confident", "label": "Not at all confident"},
    {"key": "not_very_confident", "label": "Not very confident"},
    {"key": "neither", "label": "Neither"},
    {"key": "quite_confident", "label": "Quite confident"},
    {"key": "very_confident", "label": "Very confident"},
]
QUARTERS = [(2024, q) for q in (1, 2, 3, 4)] + [(2025, q) for q in (1, 2, 3, 4)]
UNREPORTED = "2025/26 Q4"
NO_ANSWERS = "2024/25 Q3"  # n = 0
NO_CALL_STATISTICS = "2024/25 Q4"
XSS = "<script>alert('x')</script> & co"
TOPICS = {
    "report_crime_online": "Report a crime online",
    "anonymous_reporting": "Report anonymously",
    "victim_support": "Victim support",
}


def label(year: int, quarter: int) -> str:
    return f"{year}/{(year + 1) % 100:02d} Q{quarter}"


def ident(year: int, quarter: int) -> dict:
    return {"fiscal_year": year, "quarter": quarter, "label": label(year, quarter)}


def confidence_row(year: int, quarter: int, i: int) -> dict:
    row = ident(year, quarter)
    if row["label"] == UNREPORTED:
        return row | {
            "reported": False,
            "n": None,
            "counts": None,
            "channels": None,
            "percent_confident": None,
            "interval": None,
            "net_confidence": None,
        }
    if row["label"] == NO_ANSWERS:
        return row | {
            "reported": True,
            "n": 0,
            "counts": {o["key"]: 0 for o in OPTIONS},
            "channels": {"app": 0, "event": 0},
            "percent_confident": None,
            "interval": None,
            "net_confidence": None,
        }
    # 2024/25 Q1 is the brief's example: quite confident 300 against not at all confident 150
    counts = {
        "not_at_all_confident": 150 + i,
        "not_very_confident": 100 + 2 * i,
        "neither": 300 + 3 * i,
        "quite_confident": 300 + 4 * i,
        "very_confident": 150 + 5 * i,
    }
    n = sum(counts.values())
    return row | {
        "reported": True,
        "n": n,
        "counts": counts,
        "channels": {"app": n - 100 - i, "event": 100 + i},
        "percent_confident": 45.0 + i,
        "interval": {"lower": 41.9 + i, "upper": 48.1 + i},
        "net_confidence": 20.0 + i / 10,
    }


def demand_row(year: int, quarter: int, i: int) -> dict:
    row = ident(year, quarter)
    if row["label"] == UNREPORTED:
        return row | {
            "reported": False,
            "submissions": None,
            "referred_to_partners": None,
            "would_have_called_101": None,
            "calls_avoided": None,
            "minutes_saved": None,
            "call_statistics": None,
            "change_against_baseline": None,
            "click_throughs": None,
        }
    statistics = None
    if row["label"] != NO_CALL_STATISTICS:
        statistics = {
            "non_emergency_calls": 52000 + 1000 * i,
            "answered_within_2_minutes_percent": 67.9 + i,
            "average_wait_seconds": 95 - i,
        }
    change = None
    if year == 2025 and quarter == 1:
        change = {
            "non_emergency_calls_percent": -5.6,
            "answered_within_2_minutes_points": 16.7,
            "average_wait_seconds": -20,
        }
    elif year == 2025:  # its baseline quarter lacks something: each field may be null
        change = {
            "non_emergency_calls_percent": 1.9,
            "answered_within_2_minutes_points": None,
            "average_wait_seconds": None,
        }
    return row | {
        "reported": True,
        "submissions": {
            "report": 120 + i,
            "question": 10 + i,
            "feedback": 30 + i,
            "total": 160 + 3 * i,
        },
        "referred_to_partners": 40 + i,
        "would_have_called_101": {"yes": 60 + i, "no": 30 + i, "not_sure": 20, "unanswered": 21},
        "calls_avoided": 60 + i,
        "minutes_saved": 4.0 * (60 + i),
        "call_statistics": statistics,
        "change_against_baseline": change,
        "click_throughs": click_throughs(year, row["label"], i),
    }


def click_throughs(year: int, label: str, i: int) -> dict:
    """Three topics, two destination kinds; none at all in NO_ANSWERS (2024/25 Q3), so the
    2025/26 Q3 change against it is null."""
    if label == NO_ANSWERS:
        topics = dict.fromkeys(TOPICS, 0)
    else:
        topics = {"report_crime_online": 50 + 5 * i, "anonymous_reporting": 30 + 5 * i}
        topics["victim_support"] = 20
    total = sum(topics.values())
    kinds = {
        "police": topics["report_crime_online"],
        "charity": total - topics["report_crime_online"],
    }

    def shares(counts: dict) -> dict:
        return {
            key: {"count": n, "share_percent": round(100 * n / total, 1) if total else None}
            for key, n in counts.items()
        }

    change = None
    if year == 2025:
        before = 0 if i - 4 == 2 else 100 + 10 * (i - 4)  # 2024/25 Q3 had none
        change = {
            "total_baseline": before,
            "total_change_percent": round(100 * (total - before) / before, 1) if before else None,
        }
    return {
        "total": total,
        "by_topic": shares(topics),
        "by_destination_kind": shares(kinds),
        "change_against_baseline": change,
    }


def complaints_row(year: int, quarter: int, i: int) -> dict:
    row = ident(year, quarter)
    if row["label"] == UNREPORTED:
        return row | {
            "reported": False,
            "complaints_logged": None,
            "allegations": None,
            "escalated": None,
            "service_recovery": None,
            "median_time_to_first_contact_seconds": None,
            "satisfaction": None,
            "compliments": None,
            "suggestions": None,
        }
    nobody_answered = row["label"] == NO_ANSWERS
    return row | {
        "reported": True,
        "complaints_logged": 12 + i,
        "allegations": {
            "delivery_of_duties_and_services": 5 + i,
            "police_powers_policies_and_procedures": 3,
            "individual_behaviour": 2 + i,
            "other": 1,
        },
        "escalated": 1,
        "service_recovery": 8 + i,
        "median_time_to_first_contact_seconds": None if nobody_answered else 5400 + 60 * i,
        "satisfaction": {
            "answers": 0 if nobody_answered else 10 + i,
            "satisfied": 0 if nobody_answered else 9 + i,
            "rate_percent": None if nobody_answered else 90.0 + i / 10,
        },
        "compliments": 7 + i,
        "suggestions": 3,
    }


def targets_row(year: int, quarter: int, i: int) -> dict:
    row = ident(year, quarter)
    if row["label"] == UNREPORTED:
        return row | {"reported": False, "reports": None, "complaints": None, "referrals": None}
    hidden = {
        "counted": None,
        "handled": None,
        "within_target": None,
        "percent_within_target": None,
        "suppressed": True,
    }
    return row | {
        "reported": True,
        "reports": {
            "counted": 40 + i,
            "handled": 38 + i,
            "within_target": 30 + i,
            "percent_within_target": 75.5 + i,
            "suppressed": False,
        },
        "complaints": hidden
        if row["label"] == NO_ANSWERS
        else {
            "counted": 9,
            "handled": 9,
            "within_target": None,
            "percent_within_target": None,
            "suppressed": True,
        },
        "referrals": {
            "counted": 20 + i,
            "handled": 20 + i,
            "within_target": 10 + i,
            "percent_within_target": 50.0,
            "suppressed": False,
        },
    }


def sample_report() -> dict:
    """A complete report for 2025/26 Q3: Q4 unreported, one quarter with n = 0, one without
    imported call statistics, and a category whose name tries to inject a script."""
    quarter = ident(2025, 3)
    return {
        "title": "COPA quarterly performance report",
        "organisation": "Office of the Police and Crime Commissioner for Cleveland",
        "quarter": quarter,
        "current_year": {"fiscal_year": 2025, "label": "2025/26"},
        "baseline_year": {"fiscal_year": 2024, "label": "2024/25"},
        "generated_at": "2026-11-23T02:00:00+00:00",
        "caveats": [SELF_SELECTED, SUPPRESSION],
        "public_confidence": {
            "question": "How confident are you in policing in your area?",
            "options": OPTIONS,
            "context": {
                "source": "Crime Survey for England and Wales, March 2020",
                "cleveland_percent": 69,
                "national_percent": 75,
            },
            "quarters": [confidence_row(y, q, i) for i, (y, q) in enumerate(QUARTERS)],
        },
        "demand_reduction": {
            "minutes_per_call": 4.0,
            "topics": [{"key": key, "label": label} for key, label in TOPICS.items()],
            "destination_kinds": [
                {"key": "police", "label": "Police"},
                {"key": "charity", "label": "Charities"},
            ],
            "quarters": [demand_row(y, q, i) for i, (y, q) in enumerate(QUARTERS)],
            "click_throughs_by_signpost": {
                "quarter": quarter,
                "signposts": [
                    {
                        "id": "1b0f7c52-0d6f-4d8a-9a39-4f8b8d1f4a10",
                        "code": "report-crime-online",
                        "title": "Report a crime online",
                        "organisation": "Cleveland Police",
                        "topic": "report_crime_online",
                        "label": "Report a crime online",
                        "count": 80,
                        "share_percent": 57.1,
                        "baseline_count": 0,
                        "change_percent": None,
                    },
                    {
                        "id": "7c6a2b1e-3f5d-4e2a-8b1c-9d0e1f2a3b4c",
                        "code": "crimestoppers",
                        "title": "Tell Crimestoppers anonymously",
                        "organisation": "Crimestoppers",
                        "topic": "anonymous_reporting",
                        "label": "Tell Crimestoppers anonymously",
                        "count": 60,
                        "share_percent": 42.9,
                        "baseline_count": 48,
                        "change_percent": 25.0,
                    },
                ],
            },
        },
        "feedback_and_complaints": {
            "allegation_groups": [
                {
                    "key": "delivery_of_duties_and_services",
                    "label": "Delivery of duties and services",
                },
                {
                    "key": "police_powers_policies_and_procedures",
                    "label": "Police powers, policies and procedures",
                },
                {"key": "individual_behaviour", "label": "Individual behaviour"},
                {"key": "other", "label": "All other complaints"},
            ],
            "quarters": [complaints_row(y, q, i) for i, (y, q) in enumerate(QUARTERS)],
        },
        "within_target": {
            "targets": {
                "report_first_action_hours": 48,
                "category_hours": {"asb": 24, "drugs": 12},
                "complaint_first_contact_hours": 36,
                "referral_acknowledgement_hours": 24,
            },
            "quarters": [targets_row(y, q, i) for i, (y, q) in enumerate(QUARTERS)],
        },
        "most_common_issues": {
            "quarter": quarter,
            "categories": [
                {"code": "asb", "name": "Antisocial behaviour", "count": 60, "share_percent": 37.5},
                {"code": "fly-tipping", "name": "Fly-tipping", "count": 41, "share_percent": 25.6},
                {"code": "xss", "name": XSS, "count": 17, "share_percent": 10.6},
            ],
            "by_local_authority": [
                {
                    "code": "E06000002",
                    "name": "Middlesbrough",
                    "count": 50,
                    "outcomes": {
                        "passed_to_force_control_room": 20,
                        "referred_to_partner": 10,
                        "awaiting_decision": 20,
                    },
                },
                {
                    "code": "E06000004",
                    "name": "Stockton-on-Tees",
                    "count": 33,
                    "outcomes": {
                        "passed_to_force_control_room": 11,
                        "referred_to_partner": 13,
                        "awaiting_decision": 9,
                    },
                },
            ],
        },
        "partner_performance": {
            "quarter": quarter,
            "partners": [
                {
                    "code": "middlesbrough-council",
                    "name": "Middlesbrough Council",
                    "kind": "council",
                    "sent": 30,
                    "acknowledged": 28,
                    "resolved": 20,
                    "median_seconds_to_acknowledge": 3600,
                    "median_seconds_to_resolve": 259200,
                },
                {
                    "code": "thirteen-group",
                    "name": "Thirteen Group",
                    "kind": "housing",
                    "sent": 4,
                    "acknowledged": 0,
                    "resolved": 0,
                    "median_seconds_to_acknowledge": None,
                    "median_seconds_to_resolve": None,
                },
            ],
        },
    }


# ---------------------------------------------------------------------------------------------
# The contract, independently of the renderer: every number of the JSON and where it belongs

IDENTITY = {"fiscal_year", "quarter", "label", "reported"}
# A dict of one measure's breakdown: the measure's CSV name. Other dicts hold distinct measures.
BREAKDOWNS = {
    "counts": "count",
    "channels": "channel",
    "submissions": "submissions",
    "would_have_called_101": "would_have_called_101",
    "allegations": "allegations",
}
QUARTER_SECTIONS = (
    "public_confidence",
    "demand_reduction",
    "feedback_and_complaints",
    "within_target",
)


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def flatten(report: dict) -> dict[tuple[str, str, str, str], int | float]:
    """Every number of the report, keyed by (section, measure, breakdown, quarter)."""
    facts: dict[tuple[str, str, str, str], int | float] = {}

    def put(section, measure, breakdown, quarter, value):
        if is_number(value):
            key = (section, measure, breakdown, quarter)
            assert key not in facts, f"two numbers at {key}"
            facts[key] = value

    for section in QUARTER_SECTIONS:
        for row in report[section]["quarters"]:
            quarter = row["label"]
            for key, value in row.items():
                if key in IDENTITY:
                    continue
                if key in BREAKDOWNS:
                    for sub, number in (value or {}).items():
                        put(section, BREAKDOWNS[key], sub, quarter, number)
                elif key == "click_throughs":
                    put_clicks(put, section, quarter, value or {})
                elif key == "interval":
                    for sub, number in (value or {}).items():
                        put(section, f"interval_{sub}", "", quarter, number)
                elif isinstance(value, dict):
                    for sub, number in (value or {}).items():
                        put(section, f"{key}.{sub}", "", quarter, number)
                else:
                    put(section, key, "", quarter, value)
    context = report["public_confidence"]["context"]
    for key in ("cleveland_percent", "national_percent"):
        put("public_confidence", f"context.{key}", "", "", context[key])
    put(
        "demand_reduction",
        "minutes_per_call",
        "",
        "",
        report["demand_reduction"]["minutes_per_call"],
    )

    signposts = report["demand_reduction"]["click_throughs_by_signpost"]
    quarter = signposts["quarter"]["label"]
    for signpost in signposts["signposts"]:
        for key, value in signpost.items():
            put(
                "demand_reduction",
                f"click_throughs_by_signpost.{key}",
                signpost["code"],
                quarter,
                value,
            )

    issues = report["most_common_issues"]
    quarter = issues["quarter"]["label"]
    for category in issues["categories"]:
        put("most_common_issues", "count", category["code"], quarter, category["count"])
        put(
            "most_common_issues",
            "share_percent",
            category["code"],
            quarter,
            category["share_percent"],
        )
    for area in issues["by_local_authority"]:
        put("most_common_issues", "local_authority_count", area["code"], quarter, area["count"])
        for outcome, number in area["outcomes"].items():
            put("most_common_issues", "outcome", f"{area['code']}:{outcome}", quarter, number)

    targets = report["within_target"]["targets"]
    for key, value in targets.items():
        if key == "category_hours":
            for code, hours in value.items():
                put("within_target", "category_hours", code, "", hours)
        else:
            put("within_target", key, "", "", value)

    partners = report["partner_performance"]
    quarter = partners["quarter"]["label"]
    for partner in partners["partners"]:
        for key, value in partner.items():
            if key not in ("code", "name", "kind"):
                put("partner_performance", key, partner["code"], quarter, value)
    return facts


def put_clicks(put, section: str, quarter: str, clicks: dict) -> None:
    """A quarter row's click-throughs: the total, each topic's and destination kind's count and
    share (keyed by topic or kind), and the change against the baseline."""
    put(section, "click_throughs.total", "", quarter, clicks.get("total"))
    for part in ("by_topic", "by_destination_kind"):
        for key, figures in (clicks.get(part) or {}).items():
            for figure, number in figures.items():
                put(section, f"click_throughs.{part}.{figure}", key, quarter, number)
    for key, number in (clicks.get("change_against_baseline") or {}).items():
        put(section, f"click_throughs.change_against_baseline.{key}", "", quarter, number)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------------------------------------
# CSV


def test_every_number_of_the_report_is_in_the_csv_at_its_place_and_spelt_as_in_the_json():
    report = sample_report()
    rows = csv_rows(report_csv(report))
    written = {
        (r["section"], r["measure"], r["breakdown"], r["quarter"]): r["value"]
        for r in rows
        if r["section"] != "notes" and r["value"] != ""
    }
    expected = {key: json.dumps(value) for key, value in flatten(report).items()}
    assert len(expected) > 250  # the sample really is a whole report
    assert written == expected
    # the spelling survives: a float stays a float, an int an int
    assert written[("public_confidence", "percent_confident", "", "2024/25 Q1")] == "45.0"
    assert written[("public_confidence", "count", "quite_confident", "2024/25 Q1")] == "300"
    assert written[("demand_reduction", "minutes_per_call", "", "")] == "4.0"


def test_csv_has_one_row_per_place_and_leaves_nulls_empty():
    report = sample_report()
    rows = [r for r in csv_rows(report_csv(report)) if r["section"] != "notes"]
    keys = [(r["section"], r["measure"], r["breakdown"], r["quarter"]) for r in rows]
    assert len(keys) == len(set(keys))

    def value(section, measure, breakdown, quarter):
        return next(
            r["value"]
            for r in rows
            if (r["section"], r["measure"], r["breakdown"], r["quarter"])
            == (section, measure, breakdown, quarter)
        )

    unreported = [r for r in rows if r["quarter"] == UNREPORTED]
    reported = [
        r
        for r in rows
        if r["quarter"] == "2025/26 Q3"
        and r["section"] in QUARTER_SECTIONS
        and not r["measure"].startswith("click_throughs_by_signpost.")  # the quarter's own table
    ]
    assert len(unreported) == len(reported)  # the unreported quarter still has its rows...
    assert {r["value"] for r in unreported} == {""}  # ...all empty
    assert value("public_confidence", "n", "", NO_ANSWERS) == "0"
    assert value("public_confidence", "percent_confident", "", NO_ANSWERS) == ""
    assert value("public_confidence", "interval_lower", "", NO_ANSWERS) == ""
    assert (
        value("demand_reduction", "call_statistics.non_emergency_calls", "", NO_CALL_STATISTICS)
        == ""
    )
    assert (
        value(
            "partner_performance", "median_seconds_to_acknowledge", "thirteen-group", "2025/26 Q3"
        )
        == ""
    )


def test_csv_is_rfc4180_with_the_caveats_first():
    report = sample_report()
    report["caveats"].append('A caveat with "quotes", commas\nand a line break.')
    text = report_csv(report)
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "").replace("commas\nand", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["section", "measure", "breakdown", "quarter", "value"]
    assert all(len(row) == 5 for row in rows)
    assert rows[1:5] == [
        ["notes", "caveat", "", "", SELF_SELECTED],
        ["notes", "caveat", "", "", SUPPRESSION],
        ["notes", "caveat", "", "", 'A caveat with "quotes", commas\nand a line break.'],
        ["notes", "report_quarter", "", "2025/26 Q3", ""],
    ]


# ---------------------------------------------------------------------------------------------
# HTML

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class Page(HTMLParser):
    """Checks every element is closed in order, and collects the figures by their key."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, dict]] = []
        self.figures: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._figure: tuple[tuple, list[str], str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in VOID:
            return
        self.open.append((tag, attrs))
        if "data-value" in attrs:
            section = next(a["data-section"] for _, a in reversed(self.open) if "data-section" in a)
            key = (section, attrs["data-measure"], attrs["data-breakdown"], attrs["data-quarter"])
            assert key not in self.figures, f"two figures at {key}"
            self._figure = (key, [], attrs["data-value"])

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))  # <rect .../> in the SVGs: nothing left open

    def handle_endtag(self, tag):
        assert self.open, f"</{tag}> closes nothing"
        opened, attrs = self.open.pop()
        assert opened == tag, f"</{tag}> closes <{opened}>"
        if self._figure and "data-value" in attrs:
            key, text, value = self._figure
            self.figures[key] = (value, "".join(text).strip())
            self._figure = None

    def handle_data(self, data):
        self.text.append(data)
        if self._figure:
            self._figure[1].append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page.open == [], f"left open: {[t for t, _ in page.open]}"
    return page


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)]


def test_every_number_of_the_report_is_in_the_html_at_its_place():
    report = sample_report()
    page = parse(report_html(report))
    shown = {key: value for key, (value, _) in page.figures.items() if value != ""}
    assert shown == {key: format_number(value) for key, value in flatten(report).items()}
    # what a reader sees: separators, units and a dash for nothing
    assert page.figures[("public_confidence", "percent_confident", "", "2024/25 Q1")] == (
        "45.0",
        "45.0%",
    )
    assert page.figures[
        ("demand_reduction", "call_statistics.non_emergency_calls", "", "2024/25 Q1")
    ] == (
        "52000",
        "52,000",
    )
    assert page.figures[
        ("feedback_and_complaints", "median_time_to_first_contact_seconds", "", "2024/25 Q1")
    ] == (
        "5400",
        "1.5 h",
    )
    assert page.figures[("public_confidence", "context.cleveland_percent", "", "")] == ("69", "69%")
    empty = [text for value, text in page.figures.values() if value == ""]
    assert empty and set(empty) == {NULL_TEXT}
    assert all(page.figures[k] == ("", NULL_TEXT) for k in page.figures if k[3] == UNREPORTED)


def test_html_is_a_printable_page_with_the_caveats_before_the_figures():
    report = sample_report()
    html = report_html(report)
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    assert ("html", {"lang": "en-GB"}) in page.tags
    text = " ".join(" ".join(page.text).split())
    assert SELF_SELECTED in text and SUPPRESSION in text
    assert "Crime Survey for England and Wales, March 2020" in text
    assert text.index(SELF_SELECTED) < text.index("Public confidence by quarter")
    assert [t for t, _ in page.tags].count("main") == 1
    assert [t for t, _ in page.tags].count("h1") == 1
    assert {
        "public_confidence",
        "demand_reduction",
        "feedback_and_complaints",
        "most_common_issues",
        "partner_performance",
        "within_target",
    } <= {a.get("data-section") for t, a in page.tags if t == "section"}
    tables = [t for t, _ in page.tags].count("table")
    assert tables == [t for t, _ in page.tags].count("caption") == 9
    assert all(
        a.get("scope") in {"col", "colgroup", "row", "rowgroup"} for t, a in page.tags if t == "th"
    )
    # the seed report's layout: eight quarters grouped by year, the baseline year first
    quarter_headers = [a["data-quarter"] for t, a in page.tags if t == "th" and "data-quarter" in a]
    assert quarter_headers[:8] == [label(y, q) for y, q in QUARTERS]
    assert "2024/25 (baseline)" in text and "not reported" in text
    assert "@page" in html and "A4" in html and "break-inside: avoid" in html


def test_html_is_self_contained_and_has_no_scripts():
    html = report_html(sample_report())
    assert "<script" not in html.lower()
    # the SVG namespace is a name, not something fetched; nothing else may point off the page
    assert html.count('xmlns="http://www.w3.org/2000/svg"') == 5
    rest = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?:", rest)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", rest, flags=re.IGNORECASE)
    assert "url(" not in rest and "@import" not in rest
    assert all(
        tag not in {"img", "link", "iframe", "object", "embed"} for tag, _ in parse(html).tags
    )


def test_html_escapes_a_category_name_that_tries_to_inject_a_script():
    html = report_html(sample_report())
    assert "<script" not in html
    assert "&lt;script&gt;alert(" in html
    texts = [el.text for svg in svgs(html) for el in svg.iter() if el.text]
    assert XSS in texts  # the chart still shows the name, as text


def test_each_chart_is_well_formed_accessible_svg():
    found = svgs(report_html(sample_report()))
    assert [svg.get("id") for svg in found] == [
        "chart-confidence-distribution",
        "chart-confidence-trend",
        "chart-demand",
        "chart-click-throughs",
        "chart-top-issues",
    ]
    for svg in found:
        assert svg.get("role") == "img" and svg.get("viewBox")
        children = [child.tag.split("}")[-1] for child in svg]
        assert children[:2] == ["title", "desc"]
        assert not any(
            el.tag.endswith(("script", "image", "foreignObject", "use")) for el in svg.iter()
        )


# ---------------------------------------------------------------------------------------------
# Charts

NS = "{http://www.w3.org/2000/svg}"


def segments(svg: ET.Element, quarter: str) -> dict[str, float]:
    return {
        rect.get("data-option"): float(rect.get("height"))
        for rect in svg.iter(f"{NS}rect")
        if rect.get("class") == "segment" and rect.get("data-quarter") == quarter
    }


def test_distribution_segments_are_proportional_to_the_counts():
    report = sample_report()
    svg = ET.fromstring(
        charts.confidence_distribution(report["public_confidence"]["quarters"], OPTIONS)
    )
    first = segments(svg, "2024/25 Q1")  # 150, 100, 300, 300, 150 of 1000
    assert abs(first["quite_confident"] - 2 * first["not_at_all_confident"]) < 1
    assert abs(first["neither"] - 3 * first["not_very_confident"]) < 1
    assert abs(first["quite_confident"] - first["neither"]) < 1
    # 100% stacked: every reported quarter's bar is the same height
    totals = {
        q: sum(segments(svg, q).values())
        for q in {r.get("data-quarter") for r in svg.iter(f"{NS}rect")}
        if q
    }
    assert len(set(round(t) for t in totals.values())) == 1
    # least confident at the bottom (largest y), most confident at the top
    ys = [
        float(r.get("y"))
        for r in svg.iter(f"{NS}rect")
        if r.get("class") == "segment" and r.get("data-quarter") == "2024/25 Q1"
    ]
    assert ys == sorted(ys, reverse=True)


def test_distribution_leaves_an_empty_labelled_slot_for_no_answers_and_unreported():
    report = sample_report()
    svg = ET.fromstring(
        charts.confidence_distribution(report["public_confidence"]["quarters"], OPTIONS)
    )
    assert segments(svg, NO_ANSWERS) == {} and segments(svg, UNREPORTED) == {}
    assert len(segments(svg, "2025/26 Q3")) == 5
    no_data = [g for g in svg.iter(f"{NS}g") if g.get("class") == "no-data"]
    assert len(no_data) == 2
    assert all(g.find(f"{NS}text").text == "no data" for g in no_data)
    legend = next(g for g in svg.iter(f"{NS}g") if g.get("class") == "legend")
    assert [t.text for t in legend.iter(f"{NS}text")] == [o["label"] for o in OPTIONS]


def test_trend_draws_an_interval_for_each_quarter_with_answers_and_a_gap_for_the_others():
    report = sample_report()
    quarters = report["public_confidence"]["quarters"]
    svg = ET.fromstring(charts.confidence_trend(quarters))
    intervals = {
        g.get("data-quarter"): g for g in svg.iter(f"{NS}g") if g.get("class") == "interval"
    }
    with_answers = [q["label"] for q in quarters if q["reported"] and q["n"]]
    assert sorted(intervals) == sorted(with_answers)
    assert NO_ANSWERS not in intervals and UNREPORTED not in intervals
    points = [c.get("data-quarter") for c in svg.iter(f"{NS}circle") if c.get("class") == "point"]
    assert points == with_answers
    # the line breaks at the quarter without answers: two runs, no segment across the gap
    runs = [p for p in svg.iter(f"{NS}polyline") if p.get("class") == "trend"]
    assert [len(r.get("points").split()) for r in runs] == [2, 4]
    # the interval's ends sit at the right height on the 0..100 axis
    first = intervals["2024/25 Q1"]
    upright = first.find(f"{NS}line")
    zero = next(float(t.get("y")) - 4 for t in svg.iter(f"{NS}text") if t.text == "0%")
    hundred = next(float(t.get("y")) - 4 for t in svg.iter(f"{NS}text") if t.text == "100%")
    at = lambda value: zero + (hundred - zero) * value / 100  # noqa: E731
    assert abs(float(upright.get("y1")) - at(41.9)) < 0.5
    assert abs(float(upright.get("y2")) - at(48.1)) < 0.5
    assert "45.0%" in [t.text for t in svg.iter(f"{NS}text")]


def test_demand_chart_shows_submissions_and_calls_avoided_as_the_report_says():
    report = sample_report()
    quarters = report["demand_reduction"]["quarters"]
    svg = ET.fromstring(charts.demand(quarters))
    bars = {
        (r.get("data-quarter"), r.get("data-measure")): r
        for r in svg.iter(f"{NS}rect")
        if r.get("class") == "bar"
    }
    for quarter in quarters:
        if not quarter["reported"]:
            assert (quarter["label"], "submissions") not in bars
            continue
        assert bars[(quarter["label"], "submissions")].get("data-count") == str(
            quarter["submissions"]["total"]
        )
        assert bars[(quarter["label"], "calls_avoided")].get("data-count") == str(
            quarter["calls_avoided"]
        )
    first = quarters[0]
    ratio = float(bars[(first["label"], "submissions")].get("height")) / float(
        bars[(first["label"], "calls_avoided")].get("height")
    )
    assert ratio == pytest.approx(first["submissions"]["total"] / first["calls_avoided"], rel=0.01)
    texts = [t.text for t in svg.iter(f"{NS}text")]
    assert "App submissions" in texts and "Estimated 101 calls avoided" in texts
    assert "160" in texts and "60" in texts


def test_top_issues_are_most_common_first_with_the_count_at_the_end_of_each_bar():
    categories = sample_report()["most_common_issues"]["categories"]
    svg = ET.fromstring(charts.top_issues(categories))
    bars = [r for r in svg.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert [b.get("data-category") for b in bars] == ["asb", "fly-tipping", "xss"]
    widths = [float(b.get("width")) for b in bars]
    assert widths == sorted(widths, reverse=True)
    assert widths[1] / widths[0] == pytest.approx(41 / 60, rel=0.01)
    texts = {t.text: t for t in svg.iter(f"{NS}text")}
    label = texts["60 (37.5%)"]
    assert float(label.get("x")) > float(bars[0].get("x")) + widths[0]


def test_charts_cope_with_a_report_without_answers_or_issues():
    report = sample_report()
    empty = copy.deepcopy(report["public_confidence"]["quarters"])
    for quarter in empty:
        quarter.update(n=0, counts=None, percent_confident=None, interval=None)
    for svg in (
        charts.confidence_distribution(empty, OPTIONS),
        charts.confidence_trend(empty),
        charts.top_issues([]),
    ):
        ET.fromstring(svg)
    assert "No submissions in this quarter" in charts.top_issues([])
