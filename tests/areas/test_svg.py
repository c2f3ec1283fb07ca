"""The ward map renderer: accessible SVG, the point drawn inside its ward, text escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

from shapely.geometry import Point, Polygon, shape

from copa.areas import svg

SVG = "{http://www.w3.org/2000/svg}"
DATA = Path(__file__).resolve().parents[2] / "copa" / "areas" / "data"


def middlesbrough_wards() -> list[svg.Region]:
    features = json.loads((DATA / "E06000002.geojson").read_text())["features"]
    return [
        svg.Region(
            code=str(feature["properties"].get("WD13CD") or number),
            name=str(feature["properties"].get("WD13NM") or number),
            geometry=shape(feature["geometry"]),
        )
        for number, feature in enumerate(features)
    ]


def drawn_polygons(path: str) -> list[Polygon]:
    """The rings of an SVG path written by the renderer, back as polygons."""
    polygons = []
    for ring in re.findall(r"M([^Z]*)Z", path):
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", ring)]
        polygons.append(Polygon(list(zip(numbers[::2], numbers[1::2], strict=True))))
    return polygons


def test_the_reported_point_is_drawn_inside_its_ward():
    ward = middlesbrough_wards()[0]
    inside = ward.geometry.representative_point()
    out = svg.draw([ward], ident="m", title="Ward", desc="d", point=(inside.x, inside.y))
    root = ElementTree.fromstring(out)
    circle = root.find(f"{SVG}circle")
    path = root.find(f"{SVG}path")
    assert circle is not None and path is not None
    dot = Point(float(circle.get("cx")), float(circle.get("cy")))
    assert any(polygon.contains(dot) for polygon in drawn_polygons(path.get("d")))
    # ... and inside the picture.
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    assert 0 < dot.x < width and 0 < dot.y < height


def test_a_point_outside_the_ward_is_drawn_outside_it():
    ward = middlesbrough_wards()[0]
    west, south, east, north = ward.geometry.bounds
    outside = (east + (east - west), north)
    out = svg.draw(
        [ward],
        ident="m",
        title="t",
        desc="d",
        point=outside,
        bounds=(west, south, east + 2 * (east - west), north),
    )
    root = ElementTree.fromstring(out)
    circle = root.find(f"{SVG}circle")
    dot = Point(float(circle.get("cx")), float(circle.get("cy")))
    assert not any(p.contains(dot) for p in drawn_polygons(root.find(f"{SVG}path").get("d")))


def test_the_map_is_accessible_svg_with_a_title_and_a_description():
    out = svg.draw(
        middlesbrough_wards(),
        ident="wards",
        title="Wards of Middlesbrough",
        desc="Each ward's outline.",
    )
    root = ElementTree.fromstring(out)  # well-formed XML
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "wards-title wards-desc"
    assert root.find(f"{SVG}title").text == "Wards of Middlesbrough"
    assert root.find(f"{SVG}desc").text == "Each ward's outline."
    paths = root.findall(f"{SVG}path")
    assert len(paths) == len(middlesbrough_wards())
    assert all(p.find(f"{SVG}title").text for p in paths)  # each ward names itself


def test_every_ward_keeps_its_shape_and_the_whole_map_stays_small():
    regions = middlesbrough_wards()
    out = svg.draw(regions, ident="w", title="t", desc="d")
    root = ElementTree.fromstring(out)
    frame = svg.Frame.fit(svg.regions_bounds(regions))
    for region, path in zip(regions, root.findall(f"{SVG}path"), strict=True):
        drawn = sum(p.area for p in drawn_polygons(path.get("d")))
        exact = frame.project(region.geometry).area
        assert abs(drawn - exact) / exact < 0.05
    source = (DATA / "E06000002.geojson").stat().st_size
    assert len(out) < source  # simplified and rounded: smaller than the boundaries it draws


def test_no_style_attribute_nor_script_nor_external_reference():
    out = svg.draw(
        middlesbrough_wards()[:3],
        ident="w",
        title="t",
        desc="d",
        legend=[svg.LegendItem("Withheld", hatched=True)],
    )
    assert (
        "style=" not in out
        and "<script" not in out
        and "http" not in out.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )


def test_every_text_is_escaped():
    square = Polygon([(-1.2, 54.5), (-1.1, 54.5), (-1.1, 54.6), (-1.2, 54.6)])
    nasty = '<script>alert("x")</script> & "quotes"'
    out = svg.draw(
        [svg.Region(code='a"b', name=nasty, geometry=square, label=nasty)],
        ident='x"y',
        title=nasty,
        desc=nasty,
        point=(-1.15, 54.55),
        point_title=nasty,
        legend=[svg.LegendItem(nasty, fill='"red')],
        legend_title=nasty,
    )
    assert "<script>" not in out
    root = ElementTree.fromstring(out)  # still well-formed
    assert root.find(f"{SVG}title").text == nasty


def test_hatched_regions_and_legend_use_the_maps_own_pattern():
    square = Polygon([(-1.2, 54.5), (-1.1, 54.5), (-1.1, 54.6), (-1.2, 54.6)])
    out = svg.draw(
        [svg.Region("E1", "A", square, hatched=True, label="[c]")],
        ident="reports-map",
        title="t",
        desc="d",
        legend=[svg.LegendItem("Fewer than 5: withheld", hatched=True)],
        legend_title="Reports",
    )
    root = ElementTree.fromstring(out)
    pattern = root.find(f"{SVG}defs/{SVG}pattern")
    assert pattern.get("id") == "reports-map-hatch"
    assert root.find(f"{SVG}path").get("fill") == "url(#reports-map-hatch)"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "[c]" in texts and "Fewer than 5: withheld" in texts and "Reports" in texts


def test_a_tall_area_is_kept_within_a_square_and_centred():
    tall = Polygon([(-1.2, 54.0), (-1.19, 54.0), (-1.19, 55.0), (-1.2, 55.0)])
    frame = svg.Frame.fit(tall.bounds, 400)
    assert frame.height == 400
    x, _ = frame.point(-1.195, 54.5)
    assert abs(x - 200) < 1
