"""Server-rendered SVG charts for the Commissioner's quarterly report.

Each function returns one inline ``<svg>`` string: ``role="img"`` with a ``<title>`` and ``<desc>``
(the desc repeats the figures, for screen readers and for anyone who cannot tell the colours
apart), a viewBox so it scales to the page, system fonts, and no scripts or external references,
so the report prints and renders offline. Every figure written on a chart is a number of the
report dict, formatted as in the tables; only axis ticks are derived.

Colours: the diverging purple/orange scheme (ColorBrewer PuOr) for the five confidence options,
Okabe-Ito blue/vermillion for the two demand series and the Okabe-Ito palette for the signpost
topics are distinguishable with the common colour vision deficiencies; segments carry white
separators and bars a dark outline so boundaries do not depend on colour. All text is
near-black (#1a1a1a) or dark grey (#4d4d4d) on white, well above the WCAG 2.2 AA 4.5:1 ratio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEXT = "#1a1a1a"  # 17:1 on white
MUTED_TEXT = "#4d4d4d"  # 8.5:1 on white
GRID = "#d0d0d0"
AXIS = "#4d4d4d"

# Least to most confident: orange for not confident, grey for neither, purple for confident.
CONFIDENCE_COLOURS = ("#b35806", "#f1a340", "#d8d8d8", "#998ec3", "#542788")
SERIES_COLOURS = ("#0072b2", "#d55e00")  # Okabe-Ito blue and vermillion: 5.1:1 and 4.0:1 on white
# The Okabe-Ito palette, then grey, for the signpost topics (in the report's topic order).
TOPIC_COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
    "#999999",
)

WIDTH = 720
NO_DATA = "no data"

Quarter = Mapping[str, Any]


# ---------------------------------------------------------------------------------------------
# Public charts


def confidence_distribution(
    quarters: Sequence[Quarter], options: Sequence[Mapping[str, str]]
) -> str:
    """100% stacked bars of the answers per quarter, least confident at the bottom.

    ``quarters`` are the ``public_confidence.quarters`` rows, ``options`` the five options in
    order. A quarter that is not reported, or has no answers, is an empty slot labelled "no data".
    """
    height, top, bottom, left, right = 340, 64, 56, 48, 16
    frame = _Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    parts = [_legend([(o["label"], _colour(i)) for i, o in enumerate(options)], left, 20)]
    parts += _y_axis(frame, [0, 25, 50, 75, 100], 100, suffix="%")
    summaries = []
    for index, quarter in enumerate(quarters):
        centre = frame.centre(index)
        parts.append(_text(centre, frame.bottom + 18, quarter["label"], size=11))
        total = _answer_total(quarter, options)
        if not total:
            parts.append(_no_data_slot(frame, index))
            summaries.append(f"{quarter['label']}: {NO_DATA}")
            continue
        n = quarter.get("n") if quarter.get("n") is not None else total
        parts.append(_text(centre, frame.bottom + 34, f"n = {_count(n)}", size=11))
        parts.append(_stacked_bar(frame, index, quarter, options, total))
        shares = ", ".join(
            f"{o['label']} {_count(quarter['counts'].get(o['key']) or 0)}" for o in options
        )
        summaries.append(f"{quarter['label']}: n = {_count(n)}; {shares}")
    return _svg(
        "chart-confidence-distribution",
        "Answers to the confidence question, by quarter",
        "Share of answers for each option per quarter, least confident at the bottom. "
        + "; ".join(summaries)
        + ".",
        height,
        parts,
    )


def confidence_trend(quarters: Sequence[Quarter]) -> str:
    """% confident per quarter as a line with points and 95% interval error bars (0-100%).

    Quarters without a figure (not reported, or no answers) leave a gap in the line.
    """
    height, top, bottom, left, right = 320, 24, 44, 48, 16
    frame = _Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    parts = _y_axis(frame, [0, 20, 40, 60, 80, 100], 100, suffix="%")
    points: list[tuple[float, float] | None] = []
    summaries = []
    for index, quarter in enumerate(quarters):
        centre = frame.centre(index)
        parts.append(_text(centre, frame.bottom + 18, quarter["label"], size=11))
        percent = quarter.get("percent_confident")
        if percent is None:
            points.append(None)
            parts.append(_text(centre, frame.bottom - 6, NO_DATA, size=11, fill=MUTED_TEXT))
            summaries.append(f"{quarter['label']}: {NO_DATA}")
            continue
        y = frame.y(percent, 100)
        points.append((centre, y))
        interval = quarter.get("interval")
        label_y = y - 10
        if interval and interval.get("lower") is not None and interval.get("upper") is not None:
            parts.append(_error_bar(frame, centre, quarter["label"], interval))
            label_y = min(label_y, frame.y(interval["upper"], 100) - 6)
            summaries.append(
                f"{quarter['label']}: {_percent(percent)} "
                f"(95% interval {_percent(interval['lower'])} to {_percent(interval['upper'])})"
            )
        else:
            summaries.append(f"{quarter['label']}: {_percent(percent)}")
        parts.append(_text(centre + 8, label_y, _percent(percent), size=11, anchor="start"))
    parts += _line_runs(points, SERIES_COLOURS[0])
    parts += [
        _point(p, q["label"], SERIES_COLOURS[0]) for p, q in zip(points, quarters, strict=True) if p
    ]
    return _svg(
        "chart-confidence-trend",
        "Percentage confident, by quarter, with 95% intervals",
        "Percentage of answers that were quite or very confident, per quarter, with the 95% "
        "Wilson interval. " + "; ".join(summaries) + ".",
        height,
        parts,
    )


def demand(quarters: Sequence[Quarter]) -> str:
    """Grouped bars per quarter: app submissions (total) and estimated 101 calls avoided."""
    height, top, bottom, left, right = 320, 52, 44, 56, 16
    frame = _Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    series = [
        ("App submissions", SERIES_COLOURS[0]),
        ("Estimated 101 calls avoided", SERIES_COLOURS[1]),
    ]
    values = [(_submissions_total(q), q.get("calls_avoided")) for q in quarters]
    ticks, top_value = _nice_ticks(max((v or 0) for pair in values for v in pair))
    parts = [_legend(series, left, 20)]
    parts += _y_axis(frame, ticks, top_value)
    summaries = []
    bar_width = frame.slot * 0.3
    for index, (quarter, pair) in enumerate(zip(quarters, values, strict=True)):
        centre = frame.centre(index)
        parts.append(_text(centre, frame.bottom + 18, quarter["label"], size=11))
        if all(v is None for v in pair):
            parts.append(_text(centre, frame.bottom - 6, NO_DATA, size=11, fill=MUTED_TEXT))
            summaries.append(f"{quarter['label']}: {NO_DATA}")
            continue
        said = []
        for offset, value, (name, colour), measure in zip(
            (-bar_width, 0.0), pair, series, ("submissions", "calls_avoided"), strict=True
        ):
            x = centre + offset
            parts.append(
                _value_bar(frame, x, bar_width, value, top_value, colour, quarter, measure, name)
            )
            said.append(f"{name.lower()} {_count(value) if value is not None else NO_DATA}")
        summaries.append(f"{quarter['label']}: " + ", ".join(said))
    return _svg(
        "chart-demand",
        "App submissions and estimated 101 calls avoided, by quarter",
        "; ".join(summaries) + ".",
        height,
        parts,
    )


def click_throughs(quarters: Sequence[Quarter], topics: Sequence[Mapping[str, str]]) -> str:
    """Stacked bars of the click-throughs per quarter, one segment per topic (in ``topics``
    order from the bottom), the quarter's total above its bar; the legend names the topics
    clicked in any quarter. A quarter not reported is an empty slot labelled "no data"."""
    clicked = [t for t in topics if any(_topic_count(q, t["key"]) for q in quarters if _clicks(q))]
    colours = {t["key"]: TOPIC_COLOURS[i % len(TOPIC_COLOURS)] for i, t in enumerate(clicked)}
    legend, lines = _wrapped_legend([(t["label"], colours[t["key"]]) for t in clicked], 56, 20)
    height, top, bottom, left, right = 300 + 18 * lines, 36 + 18 * lines, 44, 56, 16
    frame = _Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    ticks, top_value = _nice_ticks(max((_clicks(q) or {}).get("total") or 0 for q in quarters))
    parts = [legend, *_y_axis(frame, ticks, top_value)]
    summaries = []
    width = frame.slot * 0.6
    for index, quarter in enumerate(quarters):
        centre, label = frame.centre(index), quarter["label"]
        parts.append(_text(centre, frame.bottom + 18, label, size=11))
        found = _clicks(quarter)
        if found is None:
            parts.append(_text(centre, frame.bottom - 6, NO_DATA, size=11, fill=MUTED_TEXT))
            summaries.append(f"{label}: {NO_DATA}")
            continue
        y, segments, said = frame.bottom, [], []
        for topic in clicked:
            count = _topic_count(quarter, topic["key"])
            if not count:
                continue
            share = ((found.get("by_topic") or {}).get(topic["key"]) or {}).get("share_percent")
            figure = _count(count) + (f" ({_percent(share)})" if share is not None else "")
            size = frame.height * count / top_value
            y -= size
            segments.append(
                f'<rect class="segment" data-quarter="{_attr(label)}" '
                f'data-topic="{_attr(topic["key"])}" data-count="{count}" '
                f'x="{_n(centre - width / 2)}" y="{_n(y)}" width="{_n(width)}" height="{_n(size)}" '
                f'fill="{colours[topic["key"]]}" stroke="#ffffff" stroke-width="1">'
                f"<title>{_esc(label)}: {_esc(topic['label'])} {_esc(figure)}</title></rect>"
            )
            said.append(f"{topic['label']} {figure}")
        total = found.get("total") or 0
        outline = (
            f'<rect x="{_n(centre - width / 2)}" y="{_n(y)}" width="{_n(width)}" '
            f'height="{_n(frame.bottom - y)}" fill="none" stroke="{AXIS}" stroke-width="1"/>'
            if segments
            else ""
        )
        parts.append(
            f'<g class="bar" data-quarter="{_attr(label)}" data-total="{total}">'
            f"{''.join(segments)}{outline}</g>"
        )
        parts.append(_text(centre, y - 4, _count(total), size=10))
        summaries.append(f"{label}: {_count(total)}" + (f" ({', '.join(said)})" if said else ""))
    return _svg(
        "chart-click-throughs",
        "Click-throughs by topic per quarter",
        "Click-throughs to other services per quarter, stacked by topic. "
        + "; ".join(summaries)
        + ".",
        height,
        parts,
    )


def top_issues(categories: Sequence[Mapping[str, Any]]) -> str:
    """Horizontal bars of the most common issues, most first, each ending with its count."""
    row, top, right = 28, 12, 120
    left = _clamp(max((len(c["name"]) for c in categories), default=10) * 6.6 + 16, 120, 320)
    height = top * 2 + max(len(categories), 1) * row
    parts: list[str] = []
    if not categories:
        parts.append(_text(WIDTH / 2, top + row / 2 + 4, "No submissions in this quarter"))
    largest = max((c["count"] for c in categories), default=0) or 1
    span = WIDTH - left - right
    parts.append(_line(left, top, left, height - top, AXIS))
    for index, category in enumerate(categories):
        y = top + index * row
        width = span * category["count"] / largest
        label = f"{_count(category['count'])}"
        if category.get("share_percent") is not None:
            label += f" ({_percent(category['share_percent'])})"
        parts.append(_text(left - 8, y + row / 2 + 4, category["name"], anchor="end"))
        parts.append(
            f'<rect class="bar" data-category="{_attr(category["code"])}" '
            f'data-count="{category["count"]}" x="{_n(left)}" y="{_n(y + 4)}" '
            f'width="{_n(width)}" height="{_n(row - 8)}" fill="{SERIES_COLOURS[0]}">'
            f"<title>{_esc(category['name'])}: {_esc(label)}</title></rect>"
        )
        parts.append(_text(left + width + 6, y + row / 2 + 4, label, anchor="start"))
    summary = (
        "; ".join(f"{c['name']}: {_count(c['count'])}" for c in categories)
        or "No submissions in this quarter"
    )
    return _svg(
        "chart-top-issues",
        "Most common issues reported through the app",
        f"Submissions per category, most common first. {summary}.",
        height,
        parts,
    )


# ---------------------------------------------------------------------------------------------
# Layout


class _Frame:
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


def _y_axis(frame: _Frame, ticks: Iterable[float], top_value: float, suffix: str = "") -> list[str]:
    parts = []
    for tick in ticks:
        y = frame.y(tick, top_value)
        parts.append(_line(frame.left, y, frame.right, y, GRID if tick else AXIS))
        parts.append(
            _text(
                frame.left - 6,
                y + 4,
                f"{_count(tick)}{suffix}",
                size=11,
                anchor="end",
                fill=MUTED_TEXT,
            )
        )
    return parts


def _nice_ticks(largest: float) -> tuple[list[int], int]:
    """Five round ticks from 0 (steps of 1, 2 or 5 times a power of ten) covering ``largest``."""
    magnitude = 1
    while True:
        for base in (1, 2, 5):
            step = base * magnitude
            if step * 4 >= largest:
                return [step * i for i in range(5)], step * 4
        magnitude *= 10


def _stacked_bar(
    frame: _Frame, index: int, quarter: Quarter, options: Sequence[Mapping[str, str]], total: int
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
            f'<rect class="segment" data-quarter="{_attr(quarter["label"])}" '
            f'data-option="{_attr(option["key"])}" data-count="{count}" x="{_n(x)}" y="{_n(y)}" '
            f'width="{_n(width)}" height="{_n(size)}" fill="{_colour(position)}" '
            f'stroke="#ffffff" stroke-width="1"><title>{_esc(quarter["label"])}: '
            f"{_esc(option['label'])} {_count(count)} of {_count(total)}</title></rect>"
        )
    outline = (
        f'<rect x="{_n(x)}" y="{_n(frame.top)}" width="{_n(width)}" height="{_n(frame.height)}" '
        f'fill="none" stroke="{AXIS}" stroke-width="1"/>'
    )
    return (
        f'<g class="bar" data-quarter="{_attr(quarter["label"])}">{"".join(segments)}{outline}</g>'
    )


def _no_data_slot(frame: _Frame, index: int) -> str:
    width = frame.slot * 0.6
    x = frame.centre(index) - width / 2
    return (
        f'<g class="no-data"><rect x="{_n(x)}" y="{_n(frame.top)}" width="{_n(width)}" '
        f'height="{_n(frame.height)}" fill="none" stroke="{AXIS}" stroke-dasharray="4 3"/>'
        + _text(
            frame.centre(index), frame.top + frame.height / 2, NO_DATA, size=11, fill=MUTED_TEXT
        )
        + "</g>"
    )


def _error_bar(frame: _Frame, x: float, label: str, interval: Mapping[str, float]) -> str:
    low, high = frame.y(interval["lower"], 100), frame.y(interval["upper"], 100)
    colour = SERIES_COLOURS[0]
    return (
        f'<g class="interval" data-quarter="{_attr(label)}" data-lower="{interval["lower"]}" '
        f'data-upper="{interval["upper"]}"><title>{_esc(label)}: 95% interval '
        f"{_percent(interval['lower'])} to {_percent(interval['upper'])}</title>"
        + _line(x, low, x, high, colour, 1.5)
        + _line(x - 6, low, x + 6, low, colour, 1.5)
        + _line(x - 6, high, x + 6, high, colour, 1.5)
        + "</g>"
    )


def _line_runs(points: Sequence[tuple[float, float] | None], colour: str) -> list[str]:
    """One polyline per run of consecutive points, so a missing quarter leaves a gap."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [
        f'<polyline class="trend" points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in run)}" '
        f'fill="none" stroke="{colour}" stroke-width="2"/>'
        for run in runs
        if len(run) > 1
    ]


def _point(point: tuple[float, float], label: str, colour: str) -> str:
    x, y = point
    return (
        f'<circle class="point" data-quarter="{_attr(label)}" cx="{_n(x)}" cy="{_n(y)}" r="4" '
        f'fill="{colour}" stroke="#ffffff" stroke-width="1.5"/>'
    )


def _value_bar(
    frame: _Frame,
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
        f'<rect class="bar" data-quarter="{_attr(quarter["label"])}" data-measure="{measure}" '
        f'data-count="{value}" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
        f'height="{_n(frame.bottom - y)}" fill="{colour}"><title>{_esc(quarter["label"])}: '
        f"{_esc(name)} {_count(value)}</title></rect>"
        + _text(x + width / 2, y - 4, _count(value), size=10)
    )


def _wrapped_legend(entries: Sequence[tuple[str, str]], x: float, y: float) -> tuple[str, int]:
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


def _legend(entries: Sequence[tuple[str, str]], x: float, y: float) -> str:
    return f'<g class="legend">{_legend_items(entries, x, y)}</g>'


def _legend_items(entries: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for label, colour in entries:
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" fill="{colour}" '
            f'stroke="{AXIS}" stroke-width="1"/>'
        )
        parts.append(_text(x + 17, y, label, anchor="start"))
        x += 17 + len(label) * 6.6 + 18  # a generous estimate of the label's width at 12px
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Markup


def _svg(ident: str, title: str, desc: str, height: float, parts: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" role="img" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="{FONT}" font-size="12" fill="{TEXT}">'
        f'<title id="{ident}-title">{_esc(title)}</title>'
        f'<desc id="{ident}-desc">{_esc(desc)}</desc>'
        f"{''.join(parts)}</svg>"
    )


def _text(
    x: float,
    y: float,
    content: str,
    size: int = 12,
    anchor: str = "middle",
    fill: str = TEXT,
) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}">{_esc(content)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1) -> str:
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{colour}" '
        f'stroke-width="{_n(width)}"/>'
    )


def _esc(text: Any) -> str:
    return escape(str(text), quote=False)


def _attr(text: Any) -> str:
    return escape(str(text), quote=True)


def _n(number: float) -> str:
    """A coordinate: two decimals at most, so proportions survive to well under a pixel."""
    return f"{number:.2f}".rstrip("0").rstrip(".")


def _count(value: float) -> str:
    return f"{value:,}"


def _percent(value: float) -> str:
    return f"{value:,}%"


def _colour(position: int) -> str:
    return CONFIDENCE_COLOURS[position % len(CONFIDENCE_COLOURS)]


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _answer_total(quarter: Quarter, options: Sequence[Mapping[str, str]]) -> int:
    """The answers drawn for a quarter: 0 when it is not reported or nobody answered."""
    counts = quarter.get("counts")
    if not quarter.get("reported", True) or not counts:
        return 0
    return sum(counts.get(o["key"]) or 0 for o in options)


def _clicks(quarter: Quarter) -> Mapping[str, Any] | None:
    """A quarter's click-throughs: None when it is not reported."""
    if not quarter.get("reported", True):
        return None
    return quarter.get("click_throughs")


def _topic_count(quarter: Quarter, topic: str) -> int:
    found = _clicks(quarter) or {}
    return ((found.get("by_topic") or {}).get(topic) or {}).get("count") or 0


def _submissions_total(quarter: Quarter) -> int | None:
    submissions = quarter.get("submissions")
    return submissions.get("total") if submissions else None
