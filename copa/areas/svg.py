"""Ward maps as inline SVG, drawn from the stored boundaries: no tiles, scripts or requests.

Pure functions over shapely geometries in WGS84 lon/lat. ``Frame`` projects them onto a flat
plane (equirectangular, longitudes scaled by the cosine of the middle latitude: for an area
the size of Cleveland, about 40 km across, the distortion is far below a pixel) and fits that
plane into a viewBox; ``draw`` writes an accessible ``<svg>`` (``role="img"``, a ``<title>``
and a ``<desc>``, one ``<path>`` per region with its own ``<title>``, an optional marked point
and legend). Paths are simplified to half a unit of the viewBox and written with one decimal,
so a whole authority's wards stay a few tens of kilobytes. Colours and patterns are
presentation attributes, never ``style``: the console's Content-Security-Policy allows no
inline styles. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy
import shapely
from shapely.geometry.base import BaseGeometry

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEXT = "#1a1a1a"  # 17:1 on white
OUTLINE = "#4d4d4d"  # 8.5:1 on white: boundaries stay visible whatever the fill
PLAIN_FILL = "#f2f2f2"
MARKER = "#d55e00"  # Okabe-Ito vermillion: not confused with the purples of the classes
HATCH = "hatch"  # the pattern a region is filled with when its figure is withheld
WIDTH = 480
PADDING = 8
TOLERANCE = 0.5  # simplification, in viewBox units: half a pixel at the natural size
LEGEND_ROW = 22


@dataclass(frozen=True)
class Region:
    """One shape to draw: a ward, with how to fill it and what it says."""

    code: str
    name: str
    geometry: BaseGeometry  # WGS84 lon/lat
    fill: str = PLAIN_FILL
    hatched: bool = False  # filled with the withheld pattern instead of ``fill``
    label: str | None = None  # text drawn on the shape (e.g. its figure)
    title: str | None = None  # what the shape's own <title> says (default: its name)


@dataclass(frozen=True)
class LegendItem:
    label: str
    fill: str = PLAIN_FILL
    hatched: bool = False


@dataclass(frozen=True)
class Frame:
    """Projects lon/lat to viewBox units: x east, y south, the bounds fitted to ``width``."""

    west: float
    north: float
    scale: float  # viewBox units per projected degree
    cos_lat: float
    width: float
    height: float

    @classmethod
    def fit(cls, bounds: Sequence[float], width: float = WIDTH, padding: float = PADDING) -> Frame:
        """The frame showing ``bounds`` (min lon, min lat, max lon, max lat) ``width`` wide."""
        west, south, east, north = bounds
        cos_lat = math.cos(math.radians((south + north) / 2))
        span_x = max((east - west) * cos_lat, 1e-9)
        span_y = max(north - south, 1e-9)
        inner = width - 2 * padding
        scale = inner / span_x
        height = span_y * scale + 2 * padding
        # A tall narrow shape: keep it within a square, centred.
        if height > width:
            scale = inner / span_y
            height = width
            west -= ((width - 2 * padding) / scale - span_x) / 2 / cos_lat
        return cls(
            west - padding / scale / cos_lat,
            north + padding / scale,
            scale,
            cos_lat,
            width,
            height,
        )

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.west) * self.cos_lat * self.scale, (self.north - lat) * self.scale

    def project(self, geometry: BaseGeometry) -> BaseGeometry:
        """The geometry in viewBox units."""

        def onto(coords: numpy.ndarray) -> numpy.ndarray:
            x = (coords[:, 0] - self.west) * self.cos_lat * self.scale
            y = (self.north - coords[:, 1]) * self.scale
            return numpy.column_stack((x, y))

        return shapely.transform(geometry, onto)


def path_data(geometry: BaseGeometry, tolerance: float = TOLERANCE) -> str:
    """SVG path data of a projected (Multi)Polygon, simplified; holes are drawn even-odd."""
    simple = shapely.simplify(geometry, tolerance, preserve_topology=True)
    rings: list[str] = []
    for polygon in getattr(simple, "geoms", [simple]):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            coords = list(ring.coords)[:-1]  # the closing point is the Z
            if len(coords) < 3:
                continue
            first, *rest = coords
            rings.append(
                f"M{n(first[0])} {n(first[1])}" + "".join(f"L{n(x)} {n(y)}" for x, y in rest) + "Z"
            )
    return "".join(rings)


def draw(
    regions: Sequence[Region],
    *,
    ident: str,
    title: str,
    desc: str,
    point: tuple[float, float] | None = None,  # (lon, lat), marked with a circle
    point_title: str = "The reported location",
    legend: Sequence[LegendItem] = (),
    legend_title: str = "",
    width: float = WIDTH,
    bounds: Sequence[float] | None = None,
) -> str:
    """An accessible ``<svg>`` map of ``regions`` (fitted to their bounds unless given)."""
    if bounds is None:
        bounds = regions_bounds(regions)
    frame = Frame.fit(bounds, width)
    label_size = _label_size(len(regions))
    shapes: list[str] = []
    labels: list[str] = []
    for region in regions:
        projected = frame.project(region.geometry)
        fill = f"url(#{attr(ident)}-{HATCH})" if region.hatched else attr(region.fill)
        shapes.append(
            f'<path d="{path_data(projected)}" fill="{fill}" fill-rule="evenodd" '
            f'stroke="{OUTLINE}" stroke-width="0.75" stroke-linejoin="round" '
            f'data-code="{attr(region.code)}"><title>{esc(region.title or region.name)}'
            "</title></path>"
        )
        if region.label:
            anchor = shapely.point_on_surface(projected)
            labels.append(
                f'<text x="{n(anchor.x)}" y="{n(anchor.y)}" font-size="{label_size}" '
                'text-anchor="middle" dominant-baseline="central" fill="#1a1a1a" '
                'stroke="#ffffff" stroke-width="2.5" paint-order="stroke" '
                f'aria-hidden="true">{esc(region.label)}</text>'
            )
    parts = [_defs(ident), *shapes, *labels]
    if point is not None:
        x, y = frame.point(*point)
        parts.append(
            f'<circle class="map-point" cx="{n(x)}" cy="{n(y)}" r="6" fill="{MARKER}" '
            f'stroke="#ffffff" stroke-width="2"><title>{esc(point_title)}</title></circle>'
        )
    height = frame.height
    if legend:
        parts.append(_legend(ident, legend, legend_title, height, width))
        height += LEGEND_ROW * (len(legend) + (1 if legend_title else 0)) + PADDING
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ward-map" id="{attr(ident)}" '
        f'role="img" viewBox="0 0 {n(width)} {n(height)}" '
        f'aria-labelledby="{attr(ident)}-title {attr(ident)}-desc" '
        f'font-family="{FONT}" font-size="12" fill="{TEXT}">'
        f'<title id="{attr(ident)}-title">{esc(title)}</title>'
        f'<desc id="{attr(ident)}-desc">{esc(desc)}</desc>'
        f"{''.join(parts)}</svg>"
    )


def regions_bounds(regions: Iterable[Region]) -> tuple[float, float, float, float]:
    """The lon/lat bounds of all the regions together."""
    boxes = [region.geometry.bounds for region in regions if not region.geometry.is_empty]
    if not boxes:
        raise ValueError("nothing to draw")
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _defs(ident: str) -> str:
    # Diagonal grey lines on white: "withheld" reads without telling any colour apart.
    return (
        f'<defs><pattern id="{attr(ident)}-{HATCH}" patternUnits="userSpaceOnUse" width="6" '
        'height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#767676" stroke-width="2"/></pattern></defs>'
    )


def _legend(ident: str, items: Sequence[LegendItem], heading: str, top: float, width: float) -> str:
    parts = []
    y = top + PADDING
    if heading:
        parts.append(
            f'<text x="{PADDING}" y="{n(y + 12)}" font-weight="bold">{esc(heading)}</text>'
        )
        y += LEGEND_ROW
    for item in items:
        fill = f"url(#{attr(ident)}-{HATCH})" if item.hatched else attr(item.fill)
        parts.append(
            f'<rect x="{PADDING}" y="{n(y)}" width="24" height="16" fill="{fill}" '
            f'stroke="{OUTLINE}" stroke-width="0.75"/>'
            f'<text x="{PADDING + 32}" y="{n(y + 12)}">{esc(item.label)}</text>'
        )
        y += LEGEND_ROW
    return f'<g class="legend">{"".join(parts)}</g>'


def _label_size(count: int) -> int:
    """Smaller figures where there are many wards to label."""
    return 11 if count <= 30 else 8


def esc(text: Any) -> str:
    return escape(str(text), quote=False)


def attr(text: Any) -> str:
    return escape(str(text), quote=True)


def n(number: float) -> str:
    """A coordinate with one decimal at most: a tenth of a pixel at the natural size."""
    text = f"{number:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
