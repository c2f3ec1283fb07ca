"""Render the Commissioner's quarterly report dict as tidy CSV or as a printable HTML page.

Both outputs come from one view of the report (``report_cells``, built here from the sections of
``sections`` and ``demand_section``): every number of the dict becomes a ``view_model.Cell`` keyed
by (section, measure, breakdown, quarter), so the CSV and the HTML tables cannot disagree about
what a number is or where it belongs. Numbers keep their JSON spelling in the CSV and in each HTML
cell's ``data-value``; the visible text adds thousands separators, units and signs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from copa.pcc_report.demand_section import demand_section
from copa.pcc_report.sections import (
    complaints_section,
    confidence_section,
    issues_section,
    partners_section,
    targets_section,
)
from copa.pcc_report.view_model import Cell, ItemTable, QuarterTable, ReportView, Row

CSV_HEADER = ("section", "measure", "breakdown", "quarter", "value")

_env = Environment(
    loader=PackageLoader("copa.pcc_report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


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
    targets = report["within_target"]["targets"]
    for key in (
        "report_first_action_hours",
        "complaint_first_contact_hours",
        "referral_acknowledgement_hours",
    ):
        loose[key] = Cell("within_target", key, "", "", targets.get(key))
    for code, hours in targets.get("category_hours", {}).items():
        loose[f"category_hours:{code}"] = Cell("within_target", "category_hours", code, "", hours)
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
            confidence_section(report),
            demand_section(report),
            complaints_section(report),
            issues_section(report),
            partners_section(report),
            targets_section(report),
        ],
    )


def _loose(section: str, measure: str, source: Mapping[str, Any], key: str) -> Cell:
    kind = "percent" if measure.endswith("_percent") else "count"
    return Cell(section, measure, "", "", source.get(key), kind)


def _rows(table: QuarterTable | ItemTable) -> Iterator[Row]:
    if isinstance(table, QuarterTable):
        for group in table.groups:
            yield from group.rows
    else:
        yield from table.rows


def _readable_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = f" {moment.tzname()}" if moment.tzinfo else ""
    return f"{moment.day} {moment:%B %Y, %H:%M}{zone}"
