"""GET /v1/metrics/demand: signpost click-throughs per quarter, by topic, destination kind and
signpost, against the same quarter of the baseline year (issue 17, "Measures").

The seed's click-throughs are COPA's first eleven months as the Commissioner reported them:
2,723 of 5,568 (48.9%) went to online crime reporting."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from copa.db import db
from copa.metrics.ranges import add_months, month_label
from copa.periods import Quarter
from copa.signposts.models import SignpostClick
from tests.metrics.support import (
    HARTLEPOOL,
    MIDDLESBROUGH,
    VICTORIA,
    add_clicks,
    add_report,
    get,
    last_completed_quarter,
    seed_clicks,
)

URL = "/v1/metrics/demand"


def months_of(quarter: Quarter) -> dict[str, str]:
    first = quarter.first_day()
    return {"from": month_label(first), "to": month_label(add_months(first, 2))}


def year_before(quarter: Quarter) -> Quarter:
    return Quarter(quarter.fiscal_year - 1, quarter.quarter)


def only_quarter(client, headers, quarter: Quarter, **params) -> dict:
    response = get(client, headers, URL, **months_of(quarter), **params)
    assert response.status_code == 200, response.get_json()
    (row,) = response.get_json()["quarters"]
    return row["click_throughs"]


def test_the_seeded_quarter_shows_online_crime_reporting_as_48_9_percent(app, client, analyst):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)

    body = get(client, analyst, URL, **months_of(quarter)).get_json()

    (row,) = body["quarters"]
    clicks = row["click_throughs"]
    assert clicks["total"] == 5568
    assert clicks["by_topic"][0] == {
        "topic": "report_crime_online",
        "label": "Report a crime online",
        "count": 2723,
        "share_percent": 48.9,
        "baseline_count": 0,
        "change_percent": None,  # nothing to compare with
    }
    counts = [item["count"] for item in clicks["by_topic"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == 5568
    assert {item["topic"]: item["count"] for item in clicks["by_topic"]} == {
        "report_crime_online": 2723,
        "anonymous_reporting": 702,
        "council_services": 896,
        "victim_support": 418,
        "crime_prevention": 356,
        "careers": 312,
        "police_complaints": 96,
        "health_and_wellbeing": 65,
    }  # no "other": nobody tapped the Police and Crime Plan
    assert {item["destination_kind"]: item["count"] for item in clicks["by_destination_kind"]} == {
        "police": 2431 + 201 + 91 + 356 + 312,
        "charity": 702 + 418,
        "partner": 301 + 262 + 187 + 146,
        "other": 96 + 65,
    }
    first = clicks["by_signpost"][0]
    assert (first["code"], first["organisation"], first["count"]) == (
        "report-crime-online",
        "Cleveland Police",
        2431,
    )
    assert first["share_percent"] == 43.7 and first["topic"] == "report_crime_online"
    assert len(clicks["by_signpost"]) == 13
    assert clicks["change_against_baseline"] == {"total_baseline": 0, "total_change_percent": None}
    assert body["totals"]["click_throughs"] == clicks  # one quarter: the totals are its own
    assert "more than once" in body["caveat"]


def test_click_throughs_are_compared_with_the_same_quarter_of_the_baseline_year(
    app, client, analyst
):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)
    seed_clicks(app, year_before(quarter), scale=0.6)

    clicks = only_quarter(client, analyst, quarter)

    # 60% of each signpost's clicks, each rounded: 1,459 + 121 + 55 to online reporting.
    assert clicks["change_against_baseline"] == {
        "total_baseline": 3343,
        "total_change_percent": 66.6,  # (5,568 - 3,343) / 3,343
    }
    online = clicks["by_topic"][0]
    assert (online["count"], online["baseline_count"], online["change_percent"]) == (
        2723,
        1635,
        66.5,
    )
    assert sum(item["baseline_count"] for item in clicks["by_topic"]) == 3343
    crimestoppers = next(s for s in clicks["by_signpost"] if s["code"] == "crimestoppers")
    assert (crimestoppers["count"], crimestoppers["baseline_count"]) == (702, 421)
    assert crimestoppers["change_percent"] == 66.7
    # An explicit baseline year says the same; another year with no clicks gives no change.
    assert only_quarter(client, analyst, quarter, baseline_year=quarter.fiscal_year - 1) == clicks
    earlier = only_quarter(client, analyst, quarter, baseline_year=quarter.fiscal_year - 2)
    assert earlier["change_against_baseline"] == {
        "total_baseline": 0,
        "total_change_percent": None,
    }


def test_a_topic_tapped_only_in_the_baseline_is_listed_with_a_fall_to_nothing(app, client, analyst):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)
    baseline_day = year_before(quarter).bounds()[0]
    add_clicks(app, "police-and-crime-plan", 8, baseline_day)

    clicks = only_quarter(client, analyst, quarter)

    other = clicks["by_topic"][-1]
    assert other == {
        "topic": "other",
        "label": "Other services",
        "count": 0,
        "share_percent": 0.0,
        "baseline_count": 8,
        "change_percent": -100.0,
    }
    assert clicks["change_against_baseline"]["total_baseline"] == 8


def test_part_of_a_quarter_is_compared_with_the_same_months_of_the_baseline(app, client, analyst):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)
    seed_clicks(app, year_before(quarter), scale=0.6)
    first, baseline_first = quarter.first_day(), year_before(quarter).first_day()

    month = {"from": month_label(first), "to": month_label(first)}
    clicks = get(client, analyst, URL, **month).get_json()["quarters"][0]["click_throughs"]
    then = {"from": month_label(baseline_first), "to": month_label(baseline_first)}
    baseline = get(client, analyst, URL, **then).get_json()["quarters"][0]["click_throughs"]

    assert 0 < clicks["total"] < 5568
    assert clicks["change_against_baseline"]["total_baseline"] == baseline["total"] < 3343
    # Both spread evenly: a month against the same month grows as the quarters do.
    assert 60 < clicks["change_against_baseline"]["total_change_percent"] < 73


def test_several_quarters_add_up_in_the_totals(app, client, analyst):
    quarter = last_completed_quarter()
    before = quarter.previous()
    seed_clicks(app, quarter)
    seed_clicks(app, before, scale=0.5)
    both = {"from": month_label(before.first_day()), "to": months_of(quarter)["to"]}

    body = get(client, analyst, URL, **both).get_json()

    totals = body["totals"]["click_throughs"]
    assert [row["click_throughs"]["total"] for row in body["quarters"]] == [2784, 5568]
    assert totals["total"] == 2784 + 5568
    online = next(item for item in totals["by_topic"] if item["topic"] == "report_crime_online")
    assert online["count"] == 1216 + 100 + 46 + 2723  # 2,431, 201 and 91 halved, rounded
    assert online["share_percent"] == 48.9  # 4,085 of 8,352


def test_a_local_authority_sees_its_own_clicks_and_a_ward_sees_none(app, client, analyst):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)
    add_report(app, "asb", quarter.bounds()[0], ward=VICTORIA, authority=HARTLEPOOL)
    with app.app_context():  # counted from the raw clicks, not the rollup
        raw = Counter(
            dict(
                db.session.execute(
                    sa.select(SignpostClick.local_authority_code, sa.func.count()).group_by(
                        SignpostClick.local_authority_code
                    )
                ).all()
            )
        )

    hartlepool = only_quarter(client, analyst, quarter, area=HARTLEPOOL)
    middlesbrough = only_quarter(client, analyst, quarter, area=MIDDLESBROUGH)

    assert hartlepool["total"] == raw[HARTLEPOOL] and 0 < hartlepool["total"] < 5568
    codes = {s["code"] for s in hartlepool["by_signpost"]}
    assert "hartlepool-council-report-it" in codes
    assert "middlesbrough-council-report-it" not in codes
    council = next(t for t in hartlepool["by_topic"] if t["topic"] == "council_services")
    assert council["count"] == 146  # only its own council's page
    assert middlesbrough["total"] == raw[MIDDLESBROUGH]
    assert raw[""] > 0  # clicks from nowhere known count force-wide only
    assert sum(raw.values()) == 5568

    ward = get(client, analyst, URL, **months_of(quarter), area=VICTORIA).get_json()
    assert ward["quarters"][0]["click_throughs"] is None
    assert ward["totals"]["click_throughs"] is None
    assert ward["quarters"][0]["submissions"]["report"] == 1  # the rest is still answered


def test_a_quarter_without_clicks_has_none(app, client, analyst):
    body = get(client, analyst, URL, **months_of(last_completed_quarter())).get_json()

    assert body["quarters"][0]["click_throughs"] == {
        "total": 0,
        "by_topic": [],
        "by_destination_kind": [],
        "by_signpost": [],
        "change_against_baseline": {"total_baseline": 0, "total_change_percent": None},
    }


def test_the_rollup_reconciles_with_the_seeded_clicks(app, client, analyst):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)
    seed_clicks(app, year_before(quarter), scale=0.6)

    result = app.test_cli_runner().invoke(args=["copa", "reconcile"])

    assert result.exit_code == 0, result.output
    assert "mismatches: 0" in result.output
    assert "MISMATCH" not in result.output
    rows = next(line for line in result.output.splitlines() if "rollup_click_through" in line)
    assert not rows.startswith("rollup_click_through: 0 ")
