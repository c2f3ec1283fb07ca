"""GET /v1/metrics/confidence: the public-confidence measures an analyst reports (DOMAIN.md
"Public confidence"): n, the five counts, % confident with its 95% Wilson interval, net
confidence, per quarter, month or area, by channel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from copa.auth.models import Device
from copa.confidence.service import cast_vote
from copa.db import db
from copa.metrics.confidence import wilson_interval
from tests.factories import bearer, signed_in
from tests.metrics.support import (
    HARTLEPOOL,
    MIDDLEHAVEN,
    MIDDLESBROUGH,
    PROBLEM_JSON,
    VICTORIA,
    add_votes,
    at,
    get,
)

URL = "/v1/metrics/confidence"
SCENARIO = {  # the acceptance scenario
    "not_at_all_confident": 100,
    "not_very_confident": 150,
    "neither": 300,
    "quite_confident": 300,
    "very_confident": 150,
}
Q3_2025 = {"from": "2025-10", "to": "2025-12"}


def only(groups: list[dict], **key) -> dict:
    (group,) = [g for g in groups if all(g.get(k) == v for k, v in key.items())]
    return group


def test_known_scenario_gives_45_percent_confident_with_its_wilson_interval(app, client, analyst):
    add_votes(app, SCENARIO, at(2025, 11, 5))

    response = get(client, analyst, URL, **Q3_2025)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    (group,) = body["groups"]
    assert group == {
        "fiscal_year": 2025,
        "quarter": 3,
        "label": "2025/26 Q3",
        "n": 1000,
        "counts": SCENARIO,
        "channels": {"app": 1000, "event": 0},
        "percent_confident": 45.0,
        "interval": {"lower": 41.9, "upper": 48.1},
        "net_confidence": 20.0,
    }
    assert body["total"]["percent_confident"] == 45.0
    assert "Crime Survey for England and Wales" in body["caveat"]
    assert body["from"] == "2025-10" and body["to"] == "2025-12" and body["area"] is None


def test_an_event_tally_adds_to_the_event_channel_only(app, client, analyst):
    add_votes(app, SCENARIO, at(2025, 11, 5))
    tally = {
        "event_name": "Middlesbrough Mela",
        "event_date": "2025-11-15",
        "area": MIDDLEHAVEN,
        "counts": dict.fromkeys(SCENARIO, 0) | {"very_confident": 10, "neither": 5},
    }
    entered = client.post("/v1/staff/confidence/tallies", json=tally, headers=analyst)
    assert entered.status_code == 201, entered.get_json()

    both = get(client, analyst, URL, **Q3_2025).get_json()["groups"][0]
    event = get(client, analyst, URL, channel="event", **Q3_2025).get_json()
    app_only = get(client, analyst, URL, channel="app", **Q3_2025).get_json()["groups"][0]

    assert both["n"] == 1015 and both["channels"] == {"app": 1000, "event": 15}
    assert event["channel"] == "event"
    assert event["groups"][0]["n"] == 15
    assert event["groups"][0]["counts"]["very_confident"] == 10
    assert event["groups"][0]["percent_confident"] == 66.7
    assert app_only["n"] == 1000 and app_only["percent_confident"] == 45.0


def test_quarters_without_answers_are_listed_with_null_measures(app, client, analyst):
    add_votes(app, {"very_confident": 3}, at(2025, 5, 1))

    body = get(client, analyst, URL, **{"from": "2025-04", "to": "2025-12"}).get_json()

    assert [g["label"] for g in body["groups"]] == ["2025/26 Q1", "2025/26 Q2", "2025/26 Q3"]
    empty = body["groups"][1]
    assert empty["n"] == 0 and empty["counts"]["very_confident"] == 0
    assert empty["percent_confident"] is None
    assert empty["interval"] is None and empty["net_confidence"] is None


def _device(app) -> uuid.UUID:
    with app.app_context():
        device = Device(platform="android")
        db.session.add(device)
        db.session.commit()
        return device.id


def test_votes_either_side_of_midnight_on_31_march_fall_in_the_right_financial_year(
    app, client, analyst
):
    # 31 March 2025 is in British Summer Time: 23:30 local is 22:30 UTC, and 00:30 local on
    # 1 April is 23:30 UTC on 31 March: a UTC calendar would put both in Q4.
    with app.app_context():
        cast_vote(
            _device(app),
            "very_confident",
            area=MIDDLEHAVEN,
            now=datetime(2025, 3, 31, 22, 30, tzinfo=UTC),
        )
        cast_vote(
            _device(app),
            "not_very_confident",
            area=MIDDLEHAVEN,
            now=datetime(2025, 3, 31, 23, 30, tzinfo=UTC),
        )

    quarters = get(client, analyst, URL, **{"from": "2025-01", "to": "2025-06"}).get_json()
    months = get(
        client, analyst, URL, group_by="month", **{"from": "2025-03", "to": "2025-04"}
    ).get_json()

    q4 = only(quarters["groups"], fiscal_year=2024, quarter=4)
    q1 = only(quarters["groups"], fiscal_year=2025, quarter=1)
    assert q4["label"] == "2024/25 Q4" and q4["counts"]["very_confident"] == 1 and q4["n"] == 1
    assert q1["label"] == "2025/26 Q1" and q1["counts"]["not_very_confident"] == 1
    assert q1["n"] == 1
    assert [(g["month"], g["n"]) for g in months["groups"]] == [("2025-03", 1), ("2025-04", 1)]


def test_group_by_month_splits_the_quarter(app, client, analyst):
    add_votes(app, {"quite_confident": 2}, at(2025, 10, 3))
    add_votes(app, {"not_at_all_confident": 1, "very_confident": 1}, at(2025, 12, 30))

    body = get(client, analyst, URL, group_by="month", **Q3_2025).get_json()

    assert [(g["month"], g["n"]) for g in body["groups"]] == [
        ("2025-10", 2),
        ("2025-11", 0),
        ("2025-12", 2),
    ]
    assert body["groups"][0]["percent_confident"] == 100.0
    assert body["groups"][2]["net_confidence"] == 0.0
    assert body["total"]["n"] == 4 and body["total"]["percent_confident"] == 75.0


def test_group_by_area_gives_each_local_authority(app, client, analyst):
    add_votes(app, {"quite_confident": 3}, at(2025, 11, 1))
    add_votes(app, {"neither": 2}, at(2025, 11, 1), ward=None)  # for Middlesbrough as a whole
    add_votes(app, {"not_very_confident": 4}, at(2025, 11, 1), ward=VICTORIA, authority=HARTLEPOOL)

    body = get(client, analyst, URL, group_by="area", **Q3_2025).get_json()

    by_code = {g["area"]["code"]: g for g in body["groups"]}
    assert len(by_code) == 4  # the four authorities, those without votes too
    assert by_code[MIDDLESBROUGH]["area"] == {
        "code": MIDDLESBROUGH,
        "name": "Middlesbrough",
        "level": "local_authority",
    }
    assert by_code[MIDDLESBROUGH]["n"] == 5 and by_code[MIDDLESBROUGH]["percent_confident"] == 60.0
    assert by_code[HARTLEPOOL]["n"] == 4 and by_code[HARTLEPOOL]["net_confidence"] == -100.0
    assert by_code["E06000004"]["n"] == 0


def test_group_by_area_within_an_authority_gives_its_wards_and_its_own_votes(app, client, analyst):
    add_votes(app, {"quite_confident": 3}, at(2025, 11, 1))
    add_votes(app, {"neither": 2}, at(2025, 11, 1), ward=None)
    add_votes(app, {"very_confident": 9}, at(2025, 11, 1), ward=VICTORIA, authority=HARTLEPOOL)

    body = get(client, analyst, URL, group_by="area", area=MIDDLESBROUGH, **Q3_2025).get_json()

    assert body["area"] == {
        "code": MIDDLESBROUGH,
        "name": "Middlesbrough",
        "level": "local_authority",
    }
    by_code = {g["area"]["code"]: g for g in body["groups"]}
    assert by_code[MIDDLEHAVEN]["area"]["level"] == "ward" and by_code[MIDDLEHAVEN]["n"] == 3
    assert by_code[MIDDLESBROUGH]["area"]["level"] == "local_authority"
    assert by_code[MIDDLESBROUGH]["n"] == 2  # votes for the authority as a whole
    assert VICTORIA not in by_code
    assert sum(g["n"] for g in body["groups"]) == body["total"]["n"] == 5


def test_area_filter_counts_only_that_ward_or_authority(app, client, analyst):
    add_votes(app, {"quite_confident": 3}, at(2025, 11, 1))
    add_votes(app, {"neither": 2}, at(2025, 11, 1), ward=None)
    add_votes(app, {"very_confident": 9}, at(2025, 11, 1), ward=VICTORIA, authority=HARTLEPOOL)

    ward = get(client, analyst, URL, area=MIDDLEHAVEN, **Q3_2025).get_json()
    authority = get(client, analyst, URL, area=MIDDLESBROUGH, **Q3_2025).get_json()

    assert ward["area"] == {"code": MIDDLEHAVEN, "name": "Middlehaven", "level": "ward"}
    assert ward["total"]["n"] == 3
    assert authority["total"]["n"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-13"}, "from"),
        ({"from": "October"}, "from"),
        ({"to": "2025-1"}, "to"),
        ({"from": "2025-12", "to": "2025-10"}, "from"),
        ({"from": "2010-01", "to": "2020-01"}, "to"),  # 121 months
        ({"area": "Middlesbrough"}, "area"),
        ({"area": "E05999999"}, "area"),  # well formed but not a Cleveland area
        ({"channel": "phone"}, "channel"),
        ({"group_by": "week"}, "group_by"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(client, analyst, params, field):
    response = get(client, analyst, URL, **params)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert field in response.get_json()["errors"]


def test_a_ten_year_span_is_allowed(client, analyst):
    response = get(client, analyst, URL, **{"from": "2016-04", "to": "2026-03"})

    assert response.status_code == 200
    assert len(response.get_json()["groups"]) == 40


def test_defaults_are_this_financial_year_so_far(client, analyst):
    from copa.periods import Quarter, today_london

    today = today_london()
    body = get(client, analyst, URL).get_json()

    assert body["from"] == f"{Quarter.of(today).fiscal_year}-04"
    assert body["to"] == f"{today.year}-{today.month:02d}"
    assert body["groups"][-1]["label"] == Quarter.of(today).label


@pytest.mark.parametrize("url", [URL, "/v1/pcc-report?year=2025&quarter=1"])
def test_anonymous_callers_are_refused(client, url):
    response = client.get(url)

    assert response.status_code == 401
    assert response.mimetype == PROBLEM_JSON


@pytest.mark.parametrize("role", ["resident", "reviewer", "resolution", "partner"])
def test_only_analysts_and_admins_read_the_metrics(app, client, cleveland, role):
    headers = bearer(signed_in(app, client, role)["access_token"])

    for url in (URL, "/v1/metrics/demand", "/v1/metrics/feedback", "/v1/metrics/issues"):
        assert client.get(url, headers=headers).status_code == 403, url
    assert client.get("/v1/metrics/partners", headers=headers).status_code == 403


def test_an_admin_reads_the_metrics(app, client, cleveland):
    headers = bearer(signed_in(app, client, "admin")["access_token"])

    assert client.get(URL, headers=headers).status_code == 200


def test_wilson_interval_matches_the_published_formula():
    lower, upper = wilson_interval(450, 1000)

    assert round(lower, 4) == 0.4194 and round(upper, 4) == 0.4810
    assert wilson_interval(0, 0) is None
    zero = wilson_interval(0, 10)
    assert zero[0] == 0.0 and 0.27 < zero[1] < 0.28  # never below 0, unlike the normal interval
