"""The building blocks the report's charts share: the plot frame, axes, bars, points and legends.

``Frame`` divides the plot area into one equal slot per quarter and maps values to y; the other
functions each draw one element in it (the y axis with round ticks, a stacked or a value bar, an
empty "no data" slot, an interval, a trend line with gaps, a legend, wrapped if it must be) and
return SVG markup written with ``svg``. Segments carry white separators and bars a dark outline,
so boundaries do not depend on colour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from copa.pcc_report import svg
from copa.pcc_report.svg import AXIS, GRID, MUTED_TEXT, NO_DATA, SERIES_COLOURS, WIDTH

Quarter = Mapping[str, Any]


class Frame:
    """The plot area: ``slots`` equal columns between ``left`` and ``right``."""

    def __init__(self, slots: int, left: float, right: float, top: float, bottom: float):
        self.left, self.right, self.top, self.bottom = left, right, top, bottom
        self.slot = (right - left) / max(slots, 1)

    def centre(self, index: int) -> float:
        return self.left + self.slot * (index + 0.5)

    def y(self, value: float, top_value: float) -> float:
        """The y of ``value`` on a 0..top_value axis (SVG y grows downwards)."""
        return self.bottom - (self.bottom - self.top) * value / top_value

    @property
    def height(self) -> float:
        return self.bottom - self.top


def y_axis(frame: Frame, ticks: Iterable[float], top_value: float, suffix: str = "") -> list[str]:
    parts = []
    for tick in ticks:
        y = frame.y(tick, top_value)
        parts.append(svg.line(frame.left, y, frame.right, y, GRID if tick else AXIS))
        parts.append(
            svg.text(
                frame.left - 6,
                y + 4,
                f"{svg.count(tick)}{suffix}",
                size=11,
                anchor="end",
                fill=MUTED_TEXT,
            )
        )
    return parts


def nice_ticks(largest: float) -> tuple[list[int], int]:
    """Five round ticks from 0 (steps of 1, 2 or 5 times a power of ten) covering ``largest``."""
    magnitude = 1
    while True:
        for base in (1, 2, 5):
            step = base * magnitude
            if step * 4 >= largest:
                return [step * i for i in range(5)], step * 4
        magnitude *= 10


def stacked_bar(
    frame: Frame, index: int, quarter: Quarter, options: Sequence[Mapping[str, str]], total: int
) -> str:
    width = frame.slot * 0.6
    x = frame.centre(index) - width / 2
    y = frame.bottom
    segments = []
    for position, option in enumerate(options):
        count = quarter["counts"].get(option["key"]) or 0
        size = frame.height * count / total
        y -= size
        segments.append(
            f'<rect class="segment" data-quarter="{svg.attr(quarter["label"])}" '
            f'data-option="{svg.attr(option["key"])}" data-count="{count}" '
            f'x="{svg.n(x)}" y="{svg.n(y)}" '
            f'width="{svg.n(width)}" height="{svg.n(size)}" fill="{svg.colour(position)}" '
            f'stroke="#ffffff" stroke-width="1"><title>{svg.esc(quarter["label"])}: '
            f"{svg.esc(option['label'])} {svg.count(count)} of {svg.count(total)}</title></rect>"
        )
    outline = (
        f'<rect x="{svg.n(x)}" y="{svg.n(frame.top)}" width="{svg.n(width)}" '
        f'height="{svg.n(frame.height)}" '
        f'fill="none" stroke="{AXIS}" stroke-width="1"/>'
    )
    return (
        f'<g class="bar" data-quarter="{svg.attr(quarter["label"])}">'
        f"{''.join(segments)}{outline}</g>"
    )


def no_data_slot(frame: Frame, index: int) -> str:
    width = frame.slot * 0.6
    x = frame.centre(index) - width / 2
    return (
        f'<g class="no-data"><rect x="{svg.n(x)}" y="{svg.n(frame.top)}" width="{svg.n(width)}" '
        f'height="{svg.n(frame.height)}" fill="none" stroke="{AXIS}" stroke-dasharray="4 3"/>'
        + svg.text(
            frame.centre(index), frame.top + frame.height / 2, NO_DATA, size=11, fill=MUTED_TEXT
        )
        + "</g>"
    )


def error_bar(frame: Frame, x: float, label: str, interval: Mapping[str, float]) -> str:
    low, high = frame.y(interval["lower"], 100), frame.y(interval["upper"], 100)
    colour = SERIES_COLOURS[0]
    return (
        f'<g class="interval" data-quarter="{svg.attr(label)}" data-lower="{interval["lower"]}" '
        f'data-upper="{interval["upper"]}"><title>{svg.esc(label)}: 95% interval '
        f"{svg.percent(interval['lower'])} to {svg.percent(interval['upper'])}</title>"
        + svg.line(x, low, x, high, colour, 1.5)
        + svg.line(x - 6, low, x + 6, low, colour, 1.5)
        + svg.line(x - 6, high, x + 6, high, colour, 1.5)
        + "</g>"
    )


def line_runs(points: Sequence[tuple[float, float] | None], colour: str) -> list[str]:
    """One polyline per run of consecutive points, so a missing quarter leaves a gap."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [
        f'<polyline class="trend" points="{" ".join(f"{svg.n(x)},{svg.n(y)}" for x, y in run)}" '
        f'fill="none" stroke="{colour}" stroke-width="2"/>'
        for run in runs
        if len(run) > 1
    ]


def point(point: tuple[float, float], label: str, colour: str) -> str:
    x, y = point
    return (
        f'<circle class="point" data-quarter="{svg.attr(label)}" '
        f'cx="{svg.n(x)}" cy="{svg.n(y)}" r="4" '
        f'fill="{colour}" stroke="#ffffff" stroke-width="1.5"/>'
    )


def value_bar(
    frame: Frame,
    x: float,
    width: float,
    value: int | None,
    top_value: float,
    colour: str,
    quarter: Quarter,
    measure: str,
    name: str,
) -> str:
    if value is None:
        return ""
    y = frame.y(value, top_value)
    return (
        f'<rect class="bar" data-quarter="{svg.attr(quarter["label"])}" data-measure="{measure}" '
        f'data-count="{value}" x="{svg.n(x)}" y="{svg.n(y)}" width="{svg.n(width)}" '
        f'height="{svg.n(frame.bottom - y)}" fill="{colour}"><title>{svg.esc(quarter["label"])}: '
        f"{svg.esc(name)} {svg.count(value)}</title></rect>"
        + svg.text(x + width / 2, y - 4, svg.count(value), size=10)
    )


def wrapped_legend(entries: Sequence[tuple[str, str]], x: float, y: float) -> tuple[str, int]:
    """A legend over as many lines as it needs (18 px apart); returns it and its extra lines."""
    lines: list[list[tuple[str, str]]] = [[]]
    used = x
    for label, colour in entries:
        width = 17 + len(label) * 6.6 + 18
        if lines[-1] and used + width > WIDTH - 16:
            lines.append([])
            used = x
        lines[-1].append((label, colour))
        used += width
    items = "".join(_legend_items(line, x, y + 18 * n) for n, line in enumerate(lines))
    return f'<g class="legend">{items}</g>', len(lines) - 1


def legend(entries: Sequence[tuple[str, str]], x: float, y: float) -> str:
    return f'<g class="legend">{_legend_items(entries, x, y)}</g>'


def _legend_items(entries: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for label, colour in entries:
        parts.append(
            f'<rect x="{svg.n(x)}" y="{svg.n(y - 10)}" width="12" height="12" fill="{colour}" '
            f'stroke="{AXIS}" stroke-width="1"/>'
        )
        parts.append(svg.text(x + 17, y, label, anchor="start"))
        x += 17 + len(label) * 6.6 + 18  # a generous estimate of the label's width at 12px
    return "".join(parts)
