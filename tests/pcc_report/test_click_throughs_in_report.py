"""The quarterly report's click-throughs: per quarter by topic and destination kind with their
shares and change against the baseline year, the reported quarter's per signpost, and a chart;
the JSON, the CSV and the page say the same (issue 17, "Measures")."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest

from copa.periods import Quarter
from tests.factories import bearer, load_reference_data, signed_in
from tests.metrics.support import get, last_completed_quarter, seed_clicks

URL = "/v1/pcc-report"
NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def analyst(app, client):
    load_reference_data(app)
    return bearer(signed_in(app, client, "analyst")["access_token"])


@pytest.fixture
def quarter(app, analyst) -> Quarter:
    """The last completed quarter with the seed's click-throughs, and 60% of them in the same
    quarter of the year before."""
    reported = last_completed_quarter()
    seed_clicks(app, reported)
    seed_clicks(app, Quarter(reported.fiscal_year - 1, reported.quarter), scale=0.6)
    return reported


def fetch(client, analyst, quarter: Quarter, accept: str | None = None):
    headers = {**analyst, **({"Accept": accept} if accept else {})}
    response = get(client, headers, URL, year=quarter.fiscal_year, quarter=quarter.quarter)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_the_report_shows_48_9_percent_to_online_crime_reporting(client, analyst, quarter):
    body = fetch(client, analyst, quarter).get_json()
    demand = body["demand_reduction"]

    rows = {row["label"]: row for row in demand["quarters"]}
    clicks = rows[quarter.label]["click_throughs"]
    assert clicks["total"] == 5568
    assert clicks["by_topic"]["report_crime_online"] == {"count": 2723, "share_percent": 48.9}
    assert clicks["by_topic"]["other"] == {"count": 0, "share_percent": 0.0}
    assert clicks["by_destination_kind"]["police"]["count"] == 3391
    assert clicks["change_against_baseline"] == {
        "total_baseline": 3343,
        "total_change_percent": 66.6,
    }
    baseline = rows[Quarter(quarter.fiscal_year - 1, quarter.quarter).label]["click_throughs"]
    assert baseline["total"] == 3343
    assert baseline["change_against_baseline"] is None  # not compared with itself
    assert [t["key"] for t in demand["topics"]][:2] == [
        "report_crime_online",
        "anonymous_reporting",
    ]
    assert len(demand["topics"]) == 9
    assert any("more than once" in caveat for caveat in body["caveats"])

    table = demand["click_throughs_by_signpost"]
    assert table["quarter"]["label"] == quarter.label
    first = table["signposts"][0]
    assert (first["code"], first["count"], first["share_percent"]) == (
        "report-crime-online",
        2431,
        43.7,
    )
    assert (first["baseline_count"], first["change_percent"]) == (1459, 66.6)
    assert sum(s["count"] for s in table["signposts"]) == 5568


def test_the_csv_has_the_share_and_the_signposts(client, analyst, quarter):
    text = fetch(client, analyst, quarter, "text/csv").get_data(as_text=True)
    rows = {
        (r["section"], r["measure"], r["breakdown"], r["quarter"]): r["value"]
        for r in csv.DictReader(io.StringIO(text, newline=""))
    }

    share = "click_throughs.by_topic.share_percent"
    assert rows[("demand_reduction", share, "report_crime_online", quarter.label)] == "48.9"
    assert rows[("demand_reduction", "click_throughs.total", "", quarter.label)] == "5568"
    change = "click_throughs.change_against_baseline.total_change_percent"
    assert rows[("demand_reduction", change, "", quarter.label)] == "66.6"
    signpost = ("demand_reduction", "click_throughs_by_signpost.count", "crimestoppers")
    assert rows[(*signpost, quarter.label)] == "702"


def test_the_page_shows_the_share_in_the_demand_section_and_charts_the_topics(
    client, analyst, quarter
):
    html = fetch(client, analyst, quarter, "text/html").get_data(as_text=True)
    demand = re.search(
        r'<section[^>]*data-section="demand_reduction".*?</section>', html, flags=re.DOTALL
    ).group(0)

    cell = re.search(
        r'<td data-measure="click_throughs\.by_topic\.share_percent" '
        r'data-breakdown="report_crime_online" data-quarter="'
        + re.escape(quarter.label)
        + r'" data-value="([^"]*)"[^>]*>([^<]*)</td>',
        demand,
    )
    assert cell is not None and cell.groups() == ("48.9", "48.9%")
    assert "Click-throughs by signpost, " + quarter.label in demand
    assert "Tell Crimestoppers anonymously" in demand

    svg = ET.fromstring(re.search(r'<svg[^>]*id="chart-click-throughs".*?</svg>', demand).group(0))
    assert svg.find(f"{NS}title").text == "Click-throughs by topic per quarter"
    segments = {
        rect.get("data-topic"): int(rect.get("data-count"))
        for rect in svg.iter(f"{NS}rect")
        if rect.get("class") == "segment" and rect.get("data-quarter") == quarter.label
    }
    assert segments["report_crime_online"] == 2723 and sum(segments.values()) == 5568
    assert "other" not in segments  # nothing to draw
    legend = [t.text for t in svg.find(f"{NS}g[@class='legend']").iter(f"{NS}text")]
    assert "Report a crime online" in legend and "Other services" not in legend
    assert "Report a crime online 2,723 (48.9%)" in svg.find(f"{NS}desc").text
