"""Maps without tiles: the report page's ward outline with its point, and the analysts' ward
choropleths (the metrics API's figures, small counts withheld as the open data withholds them)."""

from __future__ import annotations

import re
import uuid
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from copa.catalog.models import Category
from copa.confidence.service import OPTION_KEYS
from copa.db import db
from copa.metrics.models import ConfidenceRollup, ReportRollup
from copa.periods import Quarter, today_london, week_of
from copa.reports.models import Report
from tests.console.test_console import sign_in
from tests.factories import bearer, load_reference_data, signed_in
from tests.review.support import submit

MIDDLESBROUGH = "E06000002"
ACKLAM, AYRESOME, BECKFIELD = "E05001482", "E05001483", "E05001484"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def world(app):
    load_reference_data(app)


def svg_of(html: str, ident: str) -> ElementTree.Element:
    match = re.search(rf'<svg [^>]*id="{ident}".*?</svg>', html, re.S)
    assert match, f"no svg #{ident}"
    return ElementTree.fromstring(match.group(0))


def table_rows(html: str, ident: str) -> dict[str, list[str]]:
    table = re.search(rf'<table id="{ident}-table">.*?</table>', html, re.S).group(0)
    rows = {}
    for code, cells in re.findall(r'<tr data-code="([^"]+)">(.*?)</tr>', table, re.S):
        rows[code] = [
            re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", cells)
        ]
    return rows


def add_reports(app, counts: dict[str, int], quarter: Quarter) -> None:
    with app.app_context():
        category = db.session.scalar(sa.select(Category.id).where(Category.code == "asb"))
        for ward, count in counts.items():
            db.session.add(
                ReportRollup(
                    week=week_of(quarter.first_day()),
                    local_authority_code=MIDDLESBROUGH,
                    ward_code=ward,
                    category_id=category,
                    channel="app",
                    destination_kind="police",
                    outcome="",
                    fiscal_year=quarter.fiscal_year,
                    fiscal_quarter=quarter.quarter,
                    count=count,
                )
            )
        db.session.commit()


def add_votes(app, ward: str, counts: list[int], quarter: Quarter) -> None:
    with app.app_context():
        for option, count in zip(OPTION_KEYS, counts, strict=True):
            db.session.add(
                ConfidenceRollup(
                    month=quarter.first_day(),
                    area_code=ward,
                    channel="event",
                    option=option,
                    ward_code=ward,
                    local_authority_code=MIDDLESBROUGH,
                    fiscal_year=quarter.fiscal_year,
                    fiscal_quarter=quarter.quarter,
                    count=count,
                )
            )
        db.session.commit()


# --- the report page ------------------------------------------------------------------------


def test_the_report_page_draws_its_ward_with_the_point_inside(app, client, world):
    from tests.console.test_console import resident as resident_headers

    report = submit(client, resident_headers(client))
    sign_in(client, app, "reviewer")
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    drawn = svg_of(html, "report-map")
    assert drawn.get("role") == "img"
    assert drawn.find(f"{SVG}title").text == f"Where {report['reference']} was reported"
    assert drawn.find(f"{SVG}path/{SVG}title").text == "Middlehaven"
    assert drawn.find(f"{SVG}circle") is not None
    assert "the circle marks the reported point" in html


def test_a_report_without_a_location_says_so_instead_of_a_map(app, client, world):
    from tests.console.test_console import resident as resident_headers

    report = submit(client, resident_headers(client))
    with app.app_context():  # an Open311 report may come without a point
        db.session.execute(
            sa.update(Report).where(Report.id == uuid.UUID(report["id"])).values(lat=None, lon=None)
        )
        db.session.commit()
    sign_in(client, app, "reviewer")
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    assert 'id="report-map"' not in html
    assert "No map: the resident gave no location." in html


# --- the choropleths ------------------------------------------------------------------------


def test_the_maps_show_the_metrics_figures_and_withhold_small_counts(app, client, world):
    quarter = Quarter.of(today_london())
    add_reports(app, {ACKLAM: 12, AYRESOME: 3, BECKFIELD: 7}, quarter)
    add_votes(app, ACKLAM, [5, 5, 6, 10, 14], quarter)  # 24 of 40 confident
    add_votes(app, AYRESOME, [1, 0, 0, 2, 1], quarter)  # 4 answers: nothing shown
    sign_in(client, app, "analyst")
    response = client.get(
        "/console/maps",
        query_string={
            "year": quarter.fiscal_year,
            "quarter": quarter.quarter,
            "area": MIDDLESBROUGH,
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    reports = svg_of(html, "reports-map")
    assert reports.get("role") == "img" and reports.find(f"{SVG}title") is not None
    assert len(reports.findall(f"{SVG}path")) == 23  # Middlesbrough's wards
    confidence = svg_of(html, "confidence-map")

    rows = table_rows(html, "reports-map")
    assert rows[ACKLAM] == ["Acklam", "Middlesbrough", "12"]
    assert rows[AYRESOME][2] == "[c]"  # 3 is below 5
    # The total (22) less the wards shown would give the 3 back: the smallest other ward is
    # withheld too, as the open data does.
    assert rows[BECKFIELD][2] == "[c]"
    assert "Total: 22" in html
    # The page's figures are the API's (the API needs a bearer token; read it through one).
    staff = bearer(signed_in(app, client, "analyst")["access_token"])
    api = client.get(
        "/v1/metrics/issues",
        headers=staff,
        query_string={
            "level": "ward",
            "area": MIDDLESBROUGH,
            "from": _month(quarter, 0),
            "to": _month(quarter, 2),
        },
    ).get_json()
    counts = {item["code"]: item["count"] for item in api["by_area"]}
    assert counts[ACKLAM] == 12 and counts[BECKFIELD] == 7

    shown = table_rows(html, "confidence-map")
    assert shown[ACKLAM] == ["Acklam", "Middlesbrough", "60.0", "40"]
    assert shown[AYRESOME][2:] == ["[c]", "[c]"]
    assert shown[BECKFIELD][2:] == ["[c]", "[c]"]  # no answers at all
    api = client.get(
        "/v1/metrics/confidence",
        headers=staff,
        query_string={
            "group_by": "area",
            "area": MIDDLESBROUGH,
            "from": _month(quarter, 0),
            "to": _month(quarter, 2),
        },
    ).get_json()
    acklam = next(g for g in api["groups"] if g["area"]["code"] == ACKLAM)
    assert (acklam["percent_confident"], acklam["n"]) == (60.0, 40)

    # On the maps: the figure as text on each ward, withheld wards hatched.
    def ward_path(root, code):
        return next(p for p in root.iter(f"{SVG}path") if p.get("data-code") == code)

    assert ward_path(reports, AYRESOME).get("fill") == "url(#reports-map-hatch)"
    assert ward_path(reports, ACKLAM).get("fill").startswith("#")
    assert ward_path(confidence, ACKLAM).find(f"{SVG}title").text == "Acklam: 60.0% (n = 40)"
    labels = [t.text for t in confidence.iter(f"{SVG}text")]
    assert "60.0%" in labels and "[c]" in labels
    assert any("Withheld" in (t or "") for t in labels)  # the legend says what hatching means


def _month(quarter: Quarter, offset: int) -> str:
    first = quarter.first_day()
    month = first.month + offset
    year = first.year + (month - 1) // 12
    return f"{year}-{(month - 1) % 12 + 1:02d}"


def test_all_of_cleveland_draws_every_ward(app, client, world):
    sign_in(client, app, "admin")
    html = client.get("/console/maps").get_data(as_text=True)
    assert "Reports per ward, Cleveland" in html
    paths = svg_of(html, "reports-map").findall(f"{SVG}path")
    assert len(paths) > 80  # the four authorities' wards


def test_a_bad_quarter_is_an_error_summary_naming_the_field(app, client, world):
    sign_in(client, app, "analyst")
    response = client.get(
        "/console/maps", query_string={"year": "20x5", "quarter": "7", "area": "E0"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html
    assert '<a href="#year">Financial year</a>' in html
    assert '<a href="#quarter">Quarter</a>' in html
    assert '<a href="#area">Area</a>' in html
    assert 'aria-describedby="year-error"' in html


def test_the_maps_are_in_the_analysts_navigation_only(app, client, world):
    sign_in(client, app, "analyst")
    assert 'href="/console/maps"' in client.get("/console/maps").get_data(as_text=True)


def test_a_reviewer_has_no_maps_link_and_is_refused_the_page(app, client, world):
    sign_in(client, app, "reviewer")
    assert 'href="/console/maps"' not in client.get("/console/queue").get_data(as_text=True)
    assert client.get("/console/maps").status_code == 403
