"""SVG primitives and the palette of the report's charts: the root element, text, lines, numbers.

``document`` wraps a chart's parts in an accessible ``<svg>`` (``role="img"``, a ``<title>`` and
a ``<desc>``, a viewBox, system fonts, no scripts or external references); ``text`` and ``line``
draw escaped elements, ``n`` writes a coordinate, ``count`` and ``percent`` a figure as the
tables do, and ``colour`` gives a confidence option its colour. Colours: the diverging
purple/orange scheme (ColorBrewer PuOr) for the five confidence options, Okabe-Ito
blue/vermillion for the two demand series and the Okabe-Ito palette for the signpost topics are
distinguishable with the common colour vision deficiencies; all text is near-black (#1a1a1a) or
dark grey (#4d4d4d) on white, well above the WCAG 2.2 AA 4.5:1 ratio.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def document(ident: str, title: str, desc: str, height: float, parts: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" role="img" '
        f'viewBox="0 0 {WIDTH} {n(height)}" aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="{FONT}" font-size="12" fill="{TEXT}">'
        f'<title id="{ident}-title">{esc(title)}</title>'
        f'<desc id="{ident}-desc">{esc(desc)}</desc>'
        f"{''.join(parts)}</svg>"
    )


def text(
    x: float,
    y: float,
    content: str,
    size: int = 12,
    anchor: str = "middle",
    fill: str = TEXT,
) -> str:
    return (
        f'<text x="{n(x)}" y="{n(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}">{esc(content)}</text>'
    )


def line(x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1) -> str:
    return (
        f'<line x1="{n(x1)}" y1="{n(y1)}" x2="{n(x2)}" y2="{n(y2)}" stroke="{colour}" '
        f'stroke-width="{n(width)}"/>'
    )


def esc(text: Any) -> str:
    return escape(str(text), quote=False)


def attr(text: Any) -> str:
    return escape(str(text), quote=True)


def n(number: float) -> str:
    """A coordinate: two decimals at most, so proportions survive to well under a pixel."""
    return f"{number:.2f}".rstrip("0").rstrip(".")


def count(value: float) -> str:
    return f"{value:,}"


def percent(value: float) -> str:
    return f"{value:,}%"


def colour(position: int) -> str:
    return CONFIDENCE_COLOURS[position % len(CONFIDENCE_COLOURS)]
