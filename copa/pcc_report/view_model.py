"""The report's view model: how a figure is spelt and the tables it sits in, for both renderers.

Every number of the report dict becomes a ``Cell`` at its (section, measure, breakdown,
quarter); a ``Cell`` keeps the number's JSON spelling (``format_number``: 45.0 stays 45.0) for
the CSV and each HTML cell's ``data-value``, and has its visible text (``display_value``: thousands
separators, units, signs) for the page. Cells are arranged in rows of ``QuarterTable`` (measures by
quarter) or ``ItemTable`` (items of one quarter by measure), grouped into the ``Section`` and
``ReportView`` that the HTML template walks. Nothing here reads the report dict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

NULL_TEXT = "–"  # an en dash, as the seed report shows an empty or unreported figure


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
