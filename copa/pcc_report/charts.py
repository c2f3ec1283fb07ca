"""Server-rendered SVG charts for the Commissioner's quarterly report.

Each function returns one inline ``<svg>`` string: ``role="img"`` with a ``<title>`` and ``<desc>``
(the desc repeats the figures, for screen readers and for anyone who cannot tell the colours
apart), a viewBox so it scales to the page, system fonts, and no scripts or external references,
so the report prints and renders offline. Every figure written on a chart is a number of the
report dict, formatted as in the tables; only axis ticks are derived. The charts are drawn with
the frame, axes, bars and legends of ``chart_layout`` and the elements and palette of ``svg``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from copa.pcc_report import chart_layout as layout
from copa.pcc_report import svg
from copa.pcc_report.chart_layout import Quarter
from copa.pcc_report.svg import AXIS, MUTED_TEXT, NO_DATA, SERIES_COLOURS, TOPIC_COLOURS, WIDTH

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
    frame = layout.Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    parts = [layout.legend([(o["label"], svg.colour(i)) for i, o in enumerate(options)], left, 20)]
    parts += layout.y_axis(frame, [0, 25, 50, 75, 100], 100, suffix="%")
    summaries = []
    for index, quarter in enumerate(quarters):
        centre = frame.centre(index)
        parts.append(svg.text(centre, frame.bottom + 18, quarter["label"], size=11))
        total = _answer_total(quarter, options)
        if not total:
            parts.append(layout.no_data_slot(frame, index))
            summaries.append(f"{quarter['label']}: {NO_DATA}")
            continue
        n = quarter.get("n") if quarter.get("n") is not None else total
        parts.append(svg.text(centre, frame.bottom + 34, f"n = {svg.count(n)}", size=11))
        parts.append(layout.stacked_bar(frame, index, quarter, options, total))
        shares = ", ".join(
            f"{o['label']} {svg.count(quarter['counts'].get(o['key']) or 0)}" for o in options
        )
        summaries.append(f"{quarter['label']}: n = {svg.count(n)}; {shares}")
    return svg.document(
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
    frame = layout.Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    parts = layout.y_axis(frame, [0, 20, 40, 60, 80, 100], 100, suffix="%")
    points: list[tuple[float, float] | None] = []
    summaries = []
    for index, quarter in enumerate(quarters):
        centre = frame.centre(index)
        parts.append(svg.text(centre, frame.bottom + 18, quarter["label"], size=11))
        percent = quarter.get("percent_confident")
        if percent is None:
            points.append(None)
            parts.append(svg.text(centre, frame.bottom - 6, NO_DATA, size=11, fill=MUTED_TEXT))
            summaries.append(f"{quarter['label']}: {NO_DATA}")
            continue
        y = frame.y(percent, 100)
        points.append((centre, y))
        interval = quarter.get("interval")
        label_y = y - 10
        if interval and interval.get("lower") is not None and interval.get("upper") is not None:
            parts.append(layout.error_bar(frame, centre, quarter["label"], interval))
            label_y = min(label_y, frame.y(interval["upper"], 100) - 6)
            summaries.append(
                f"{quarter['label']}: {svg.percent(percent)} "
                f"(95% interval {svg.percent(interval['lower'])} "
                f"to {svg.percent(interval['upper'])})"
            )
        else:
            summaries.append(f"{quarter['label']}: {svg.percent(percent)}")
        parts.append(svg.text(centre + 8, label_y, svg.percent(percent), size=11, anchor="start"))
    parts += layout.line_runs(points, SERIES_COLOURS[0])
    parts += [
        layout.point(p, q["label"], SERIES_COLOURS[0])
        for p, q in zip(points, quarters, strict=True)
        if p
    ]
    return svg.document(
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
    frame = layout.Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    series = [
        ("App submissions", SERIES_COLOURS[0]),
        ("Estimated 101 calls avoided", SERIES_COLOURS[1]),
    ]
    values = [(_submissions_total(q), q.get("calls_avoided")) for q in quarters]
    ticks, top_value = layout.nice_ticks(max((v or 0) for pair in values for v in pair))
    parts = [layout.legend(series, left, 20)]
    parts += layout.y_axis(frame, ticks, top_value)
    summaries = []
    bar_width = frame.slot * 0.3
    for index, (quarter, pair) in enumerate(zip(quarters, values, strict=True)):
        centre = frame.centre(index)
        parts.append(svg.text(centre, frame.bottom + 18, quarter["label"], size=11))
        if all(v is None for v in pair):
            parts.append(svg.text(centre, frame.bottom - 6, NO_DATA, size=11, fill=MUTED_TEXT))
            summaries.append(f"{quarter['label']}: {NO_DATA}")
            continue
        said = []
        for offset, value, (name, colour), measure in zip(
            (-bar_width, 0.0), pair, series, ("submissions", "calls_avoided"), strict=True
        ):
            x = centre + offset
            parts.append(
                layout.value_bar(
                    frame, x, bar_width, value, top_value, colour, quarter, measure, name
                )
            )
            said.append(f"{name.lower()} {svg.count(value) if value is not None else NO_DATA}")
        summaries.append(f"{quarter['label']}: " + ", ".join(said))
    return svg.document(
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
    legend, lines = layout.wrapped_legend(
        [(t["label"], colours[t["key"]]) for t in clicked], 56, 20
    )
    height, top, bottom, left, right = 300 + 18 * lines, 36 + 18 * lines, 44, 56, 16
    frame = layout.Frame(len(quarters), left, WIDTH - right, top, height - bottom)
    ticks, top_value = layout.nice_ticks(
        max((_clicks(q) or {}).get("total") or 0 for q in quarters)
    )
    parts = [legend, *layout.y_axis(frame, ticks, top_value)]
    summaries = []
    width = frame.slot * 0.6
    for index, quarter in enumerate(quarters):
        centre, label = frame.centre(index), quarter["label"]
        parts.append(svg.text(centre, frame.bottom + 18, label, size=11))
        found = _clicks(quarter)
        if found is None:
            parts.append(svg.text(centre, frame.bottom - 6, NO_DATA, size=11, fill=MUTED_TEXT))
            summaries.append(f"{label}: {NO_DATA}")
            continue
        y, segments, said = frame.bottom, [], []
        for topic in clicked:
            count = _topic_count(quarter, topic["key"])
            if not count:
                continue
            share = ((found.get("by_topic") or {}).get(topic["key"]) or {}).get("share_percent")
            figure = svg.count(count) + (f" ({svg.percent(share)})" if share is not None else "")
            size = frame.height * count / top_value
            y -= size
            segments.append(
                f'<rect class="segment" data-quarter="{svg.attr(label)}" '
                f'data-topic="{svg.attr(topic["key"])}" data-count="{count}" '
                f'x="{svg.n(centre - width / 2)}" y="{svg.n(y)}" '
                f'width="{svg.n(width)}" height="{svg.n(size)}" '
                f'fill="{colours[topic["key"]]}" stroke="#ffffff" stroke-width="1">'
                f"<title>{svg.esc(label)}: {svg.esc(topic['label'])} "
                f"{svg.esc(figure)}</title></rect>"
            )
            said.append(f"{topic['label']} {figure}")
        total = found.get("total") or 0
        outline = (
            f'<rect x="{svg.n(centre - width / 2)}" y="{svg.n(y)}" width="{svg.n(width)}" '
            f'height="{svg.n(frame.bottom - y)}" fill="none" stroke="{AXIS}" stroke-width="1"/>'
            if segments
            else ""
        )
        parts.append(
            f'<g class="bar" data-quarter="{svg.attr(label)}" data-total="{total}">'
            f"{''.join(segments)}{outline}</g>"
        )
        parts.append(svg.text(centre, y - 4, svg.count(total), size=10))
        summaries.append(f"{label}: {svg.count(total)}" + (f" ({', '.join(said)})" if said else ""))
    return svg.document(
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
        parts.append(svg.text(WIDTH / 2, top + row / 2 + 4, "No submissions in this quarter"))
    largest = max((c["count"] for c in categories), default=0) or 1
    span = WIDTH - left - right
    parts.append(svg.line(left, top, left, height - top, AXIS))
    for index, category in enumerate(categories):
        y = top + index * row
        width = span * category["count"] / largest
        label = f"{svg.count(category['count'])}"
        if category.get("share_percent") is not None:
            label += f" ({svg.percent(category['share_percent'])})"
        parts.append(svg.text(left - 8, y + row / 2 + 4, category["name"], anchor="end"))
        parts.append(
            f'<rect class="bar" data-category="{svg.attr(category["code"])}" '
            f'data-count="{category["count"]}" x="{svg.n(left)}" y="{svg.n(y + 4)}" '
            f'width="{svg.n(width)}" height="{svg.n(row - 8)}" fill="{SERIES_COLOURS[0]}">'
            f"<title>{svg.esc(category['name'])}: {svg.esc(label)}</title></rect>"
        )
        parts.append(svg.text(left + width + 6, y + row / 2 + 4, label, anchor="start"))
    summary = (
        "; ".join(f"{c['name']}: {svg.count(c['count'])}" for c in categories)
        or "No submissions in this quarter"
    )
    return svg.document(
        "chart-top-issues",
        "Most common issues reported through the app",
        f"Submissions per category, most common first. {summary}.",
        height,
        parts,
    )


# ---------------------------------------------------------------------------------------------
# Reading the report's rows


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
