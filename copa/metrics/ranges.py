"""Periods and figures every measure shares: Europe/London month ranges and spans, the
request's filters, the baseline quarter, and percentages rounded as published figures are.

Below ``service.py`` and the measures beside it (``click_throughs.py``), which all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Area, area_by_code
from copa.periods import Quarter, local_day_start, today_london

MAX_MONTHS = 120  # ten years: longer spans are refused, not silently cut


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month``'s (negative: before)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_label(month: date) -> str:
    """``2025-10``: how months are written in queries and responses."""
    return f"{month.year:04d}-{month.month:02d}"


def default_months() -> tuple[date, date]:
    """The first month of the current financial year, and the current month (Europe/London)."""
    today = today_london()
    return Quarter(Quarter.of(today).fiscal_year, 1).first_day(), today.replace(day=1)


@dataclass(frozen=True)
class MonthRange:
    """Europe/London months ``first`` to ``last`` inclusive (each the first day of its month)."""

    first: date
    last: date

    @classmethod
    def of_quarters(cls, first: Quarter, last: Quarter) -> MonthRange:
        """The months of the quarters ``first`` to ``last`` inclusive."""
        return cls(first.first_day(), add_months(last.first_day(), 2))

    @property
    def end(self) -> date:
        """The first day after the range."""
        return add_months(self.last, 1)

    def months(self) -> list[date]:
        """Every month of the range, in order."""
        count = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
        return [add_months(self.first, n) for n in range(count)]

    def quarters(self) -> list[Quarter]:
        """Every quarter the range touches, in order."""
        return sorted({Quarter.of(month) for month in self.months()})


@dataclass(frozen=True)
class Span:
    """One or more month ranges: the PCC report reads a baseline year and the current one."""

    ranges: tuple[MonthRange, ...]

    @classmethod
    def of(cls, *ranges: MonthRange) -> Span:
        """Ranges sorted, adjacent or overlapping ones merged (one range is one index scan)."""
        merged: list[MonthRange] = []
        for item in sorted(ranges, key=lambda r: r.first):
            if merged and item.first <= merged[-1].end:
                last = max(merged[-1].last, item.last)
                merged[-1] = MonthRange(merged[-1].first, last)
            else:
                merged.append(item)
        return cls(tuple(merged))

    def where(self, column: Any) -> sa.ColumnElement[bool]:
        """``column`` (a month or week key) falls in one of the ranges."""
        return sa.or_(*(sa.and_(column >= r.first, column < r.end) for r in self.ranges))

    def where_moment(self, column: Any) -> sa.ColumnElement[bool]:
        """A UTC timestamp ``column`` falls in one of the ranges' Europe/London months."""
        return sa.or_(
            *(
                sa.and_(column >= local_day_start(r.first), column < local_day_start(r.end))
                for r in self.ranges
            )
        )

    def quarter_of(self, column: Any) -> sa.Case:
        """SQL for the quarter a UTC timestamp ``column`` falls in, as ``fiscal_year * 10 +
        quarter`` (NULL outside the span): the Europe/London bounds are worked out here, once,
        so the database compares timestamps instead of converting each row's time zone."""
        whens = []
        for months in self.ranges:
            start, end = local_day_start(months.first), local_day_start(months.end)
            for quarter in months.quarters():
                first, after = quarter.bounds()
                inside = sa.and_(column >= max(start, first), column < min(end, after))
                whens.append((inside, quarter.fiscal_year * 10 + quarter.quarter))
        return sa.case(*whens, else_=sa.null())


@dataclass(frozen=True)
class Filters:
    """What every metrics request names: its months and, optionally, an area."""

    months: MonthRange
    area: Area | None = None

    @property
    def span(self) -> Span:
        return Span.of(self.months)

    def echo(self) -> dict[str, Any]:
        """The range and area as the response repeats them."""
        return {
            "from": month_label(self.months.first),
            "to": month_label(self.months.last),
            "area": area_out(self.area) if self.area else None,
        }


def filters(first: date | None, last: date | None, area: str | None) -> Filters:
    """The request's months (defaults: this financial year so far) and area (422 if unknown)."""
    default_first, default_last = default_months()
    return Filters(
        MonthRange(first or default_first, last or default_last),
        area_by_code(area, "area") if area else None,
    )


def area_out(area: Area) -> dict[str, str]:
    """An area as responses show it."""
    return {"code": area.code, "name": area.name, "level": area.level}


def in_area(model: Any, area: Area | None) -> sa.ColumnElement[bool]:
    """A rollup's rows inside ``area``: its wards' rows for a ward, all its rows for an
    authority (rollups without areas are never passed here)."""
    if area is None:
        return sa.true()
    if area.level == "ward":
        return model.ward_code == area.code
    return model.local_authority_code == area.code


def by_quarter(model: Any) -> tuple[Any, Any]:
    """A rollup's financial-quarter columns: every rollup row carries its quarter."""
    return model.fiscal_year, model.fiscal_quarter


def quarter_out(quarter: Quarter) -> dict[str, Any]:
    """A quarter as responses show it."""
    return {"fiscal_year": quarter.fiscal_year, "quarter": quarter.quarter, "label": quarter.label}


def one_decimal(value: float) -> float:
    """Rounded half up to one decimal, as published figures are (not banker's rounding)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent to one decimal; None when ``whole`` is 0."""
    return one_decimal(part / whole * 100) if whole else None


def baseline_of(quarter: Quarter, baseline_year: int | None) -> Quarter:
    """The same quarter of the baseline year (default: the year before the quarter's own)."""
    year = quarter.fiscal_year - 1 if baseline_year is None else baseline_year
    return Quarter(year, quarter.quarter)
