"""Maps drawn from the stored ward boundaries (``copa.areas.svg``): the report page's ward
outline with its point, and the analysts' ward choropleths at /console/maps.

The choropleths show the metrics API's own figures for one quarter (reports per ward as
``/v1/metrics/issues?level=ward`` counts them, % confident per ward with its n as
``/v1/metrics/confidence?group_by=area`` does), with small counts withheld by the open data's
rule (``copa.open_data.service``): reports per ward go through ``disclose`` as one row (a ward
below 5, and any ward that would give it back from the total, is ``[c]``), and each ward's
confidence through ``control_disclosure`` (n below 5, or any option below 5, withholds the %).
Each map has a table of the same figures beside it; colour is never the only signal (every ward
carries its figure as text, withheld wards are hatched).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import request
from markupsafe import Markup

from copa.areas import svg
from copa.areas.service import Area, WardShape, list_authorities, ward_shape, ward_shapes
from copa.confidence.service import OPTION_KEYS
from copa.console.pages import blp, console_page, page
from copa.metrics.confidence import public_confidence
from copa.metrics.issues import issues
from copa.metrics.ranges import Filters, MonthRange
from copa.open_data.service import SUPPRESSED, THRESHOLD, control_disclosure, disclose
from copa.periods import Quarter, today_london
from copa.web.access import Role

MAPS = (Role.ANALYST, Role.ADMIN)
# ColorBrewer Purples, light to dark (the confidence charts' purple end); the figures drawn
# on top have a white halo, so they read on every class.
CLASS_COLOURS = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#6a51a3")
PERCENT_CLASSES = ((0.0, 25.0), (25.0, 50.0), (50.0, 75.0), (75.0, 100.0))
WITHHELD = f"Withheld: fewer than {THRESHOLD}, or would give a small count back"
QUARTER_NAMES = {
    1: "Q1 (April to June)",
    2: "Q2 (July to September)",
    3: "Q3 (October to December)",
    4: "Q4 (January to March)",
}


# --- the report page ------------------------------------------------------------------------


def report_map(report: Mapping[str, Any]) -> Markup | None:
    """The report's ward outline with its point (None without a location or a stored ward)."""
    location = report.get("location")
    area = report.get("area") or {}
    ward = area.get("ward") if area else None
    if not location or not ward:
        return None
    found = ward_shape(ward["code"])
    if found is None:
        return None
    drawn = svg.draw(
        [svg.Region(found.code, found.name, found.geometry)],
        ident="report-map",
        title=f"Where {report.get('reference', 'the report')} was reported",
        desc=(
            f"The outline of {found.name} ward, with the reported point marked by a circle "
            f"at latitude {location['lat']:.5f}, longitude {location['lon']:.5f}."
        ),
        point=(location["lon"], location["lat"]),
        width=360,
    )
    return Markup(drawn)  # noqa: S704 - every text in it is escaped by copa.areas.svg


# --- the analysts' choropleths -------------------------------------------------------------


@dataclass(frozen=True)
class WardFigure:
    code: str
    name: str
    authority: str
    shown: str  # the figure as published: a number, or [c]
    n: str  # its n as published (the same as ``shown`` for a count)
    value: float | None  # the figure to class, None when withheld


@dataclass(frozen=True)
class Choropleth:
    ident: str
    heading: str
    svg: Markup
    figure_label: str
    rows: list[WardFigure]
    note: str


def _form_errors(args: Mapping[str, str], authorities: Mapping[str, str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    year = args.get("year", "")
    if not (year.isdigit() and 2000 <= int(year) <= 2100):
        errors["year"] = ["Enter the year the financial year starts, e.g. 2025."]
    if args.get("quarter", "") not in ("1", "2", "3", "4"):
        errors["quarter"] = ["Choose a quarter."]
    if args.get("area", "") not in ("", *authorities):
        errors["area"] = ["Choose a local authority, or all of Cleveland."]
    return errors


@blp.route("/maps")
@console_page(*MAPS)
def maps():
    """Reports and % confident per ward for one quarter and local authority (or all)."""
    authorities = {la.code: la.name for la in list_authorities()}
    current = Quarter.of(today_london())
    form = {
        "year": request.args.get("year", str(current.fiscal_year)).strip(),
        "quarter": request.args.get("quarter", str(current.quarter)).strip(),
        "area": request.args.get("area", "").strip(),
    }
    context = {
        "form": form,
        "authorities": authorities,
        "quarter_names": QUARTER_NAMES,
        "maps": [],
    }
    errors = _form_errors(form, authorities)
    if errors:
        return page("console/maps.html", 422, errors=errors, **context)
    quarter = Quarter(int(form["year"]), int(form["quarter"]))
    code = form["area"] or None
    place = authorities[code] if code else "Cleveland"
    shapes = ward_shapes(code)
    if not shapes:
        return page("console/maps.html", errors={}, place=place, quarter=quarter, **context)
    months = MonthRange.of_quarters(quarter, quarter)
    area = Area(code, authorities[code], "local_authority", None, code) if code else None
    names = {
        shape.local_authority_code: authorities.get(shape.local_authority_code, "")
        for shape in shapes
    }
    reports, total = report_figures(Filters(months, area), shapes, names)
    confident, authority_votes = confidence_figures(months, shapes, names)
    context["maps"] = [
        _choropleth(
            "reports-map",
            f"Reports per ward, {place}, {quarter.label}",
            "Reports",
            reports,
            shapes,
            _count_classes([f.value for f in reports if f.value is not None]),
            "reports",
            note=f"Total: {total} reports in these wards.",
        ),
        _choropleth(
            "confidence-map",
            f"% confident per ward, {place}, {quarter.label}",
            "% confident",
            confident,
            shapes,
            PERCENT_CLASSES,
            "percent",
            note=authority_votes,
        ),
    ]
    return page("console/maps.html", errors={}, place=place, quarter=quarter, **context)


def report_figures(
    where: Filters, shapes: Sequence[WardShape], authorities: Mapping[str, str]
) -> tuple[list[WardFigure], str]:
    """Reports per ward as the metrics API counts them, disclosed as one row, and its total."""
    found = issues(where, level="ward", limit=1)
    counts = {item["code"]: item["count"] for item in found["by_area"]}
    row = [counts.get(shape.code, 0) for shape in shapes]
    total, *cells = disclose(row)
    figures = [
        WardFigure(
            shape.code,
            shape.name,
            authorities.get(shape.local_authority_code, ""),
            cell,
            cell,
            None if cell == SUPPRESSED else float(cell),
        )
        for shape, cell in zip(shapes, cells, strict=True)
    ]
    return figures, total


def confidence_figures(
    months: MonthRange, shapes: Sequence[WardShape], authorities: Mapping[str, str]
) -> tuple[list[WardFigure], str]:
    """% confident and n per ward as the metrics API gives them, each ward controlled as an
    open-data row; and a sentence on the votes that named only a local authority."""
    measures: dict[str, dict[str, Any]] = {}
    authority_only = 0
    for code in sorted({shape.local_authority_code for shape in shapes}):
        area = Area(code, authorities.get(code, code), "local_authority", None, code)
        found = public_confidence(Filters(months, area), group_by="area")
        for group in found["groups"]:
            if group["area"]["level"] == "ward":
                measures[group["area"]["code"]] = group
            else:
                authority_only += group["n"]
    figures = []
    for shape in shapes:
        group = measures.get(shape.code)
        counts = [group["counts"][key] for key in OPTION_KEYS] if group else [0] * len(OPTION_KEYS)
        responses, *_, percent = control_disclosure(counts)
        shown = SUPPRESSED if percent == SUPPRESSED else f"{group['percent_confident']}"
        figures.append(
            WardFigure(
                shape.code,
                shape.name,
                authorities.get(shape.local_authority_code, ""),
                shown,
                responses,
                None if shown == SUPPRESSED else float(group["percent_confident"]),
            )
        )
    note = (
        "Answers that named a local authority but no ward are not on this map."
        if authority_only
        else ""
    )
    return figures, note


def _count_classes(values: Sequence[float]) -> tuple[tuple[float, float], ...]:
    """Up to four classes of whole counts from the threshold to the largest shown."""
    if not values:
        return ()
    top = int(max(values))
    step = max(1, math.ceil((top - THRESHOLD + 1) / 4))
    classes: list[tuple[float, float]] = []
    low = THRESHOLD
    while low <= top:
        high = top if len(classes) == 3 else min(top, low + step - 1)
        classes.append((float(low), float(high)))
        low = high + 1
    return tuple(classes)


def _class_of(value: float, classes: Sequence[tuple[float, float]], kind: str) -> int:
    for index, (low, high) in enumerate(classes):
        last = index == len(classes) - 1
        if low <= value and (value <= high if kind == "reports" or last else value < high):
            return index
    return len(classes) - 1


def _class_label(low: float, high: float, kind: str, last: bool) -> str:
    if kind == "reports":
        return f"{int(low)}" if low == high else f"{int(low)} to {int(high)}"
    return f"{low:g}% to {high:g}%" if last else f"{low:g}% to under {high:g}%"


def _choropleth(
    ident: str,
    heading: str,
    figure_label: str,
    figures: Sequence[WardFigure],
    shapes: Sequence[WardShape],
    classes: Sequence[tuple[float, float]],
    kind: str,
    note: str = "",
) -> Choropleth:
    regions = []
    for shape, figure in zip(shapes, figures, strict=True):
        if figure.value is None:
            regions.append(
                svg.Region(
                    shape.code,
                    shape.name,
                    shape.geometry,
                    hatched=True,
                    label="[c]",
                    title=f"{shape.name}: withheld",
                )
            )
            continue
        colour = CLASS_COLOURS[_class_of(figure.value, classes, kind)]
        text = figure.shown if kind == "reports" else f"{figure.shown}%"
        extra = "" if kind == "reports" else f" (n = {figure.n})"
        regions.append(
            svg.Region(
                shape.code,
                shape.name,
                shape.geometry,
                fill=colour,
                label=text,
                title=f"{shape.name}: {text}{extra}",
            )
        )
    legend = [
        svg.LegendItem(_class_label(low, high, kind, i == len(classes) - 1), CLASS_COLOURS[i])
        for i, (low, high) in enumerate(classes)
    ]
    legend.append(svg.LegendItem(f"[c] {WITHHELD}", hatched=True))
    drawn = svg.draw(
        regions,
        ident=ident,
        title=heading,
        desc=(
            f"A map of the wards, each shaded by its {figure_label.lower()} and labelled with "
            "it; withheld wards are hatched. The table beside the map gives the same figures."
        ),
        legend=legend,
        legend_title=figure_label,
    )
    return Choropleth(
        ident,
        heading,
        Markup(drawn),
        figure_label,
        list(figures),
        note,  # noqa: S704
    )
