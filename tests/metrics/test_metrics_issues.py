"""GET /v1/metrics/issues: the most common categories, and outcomes by area, which the published
COPA figures could not break down by ward."""

from __future__ import annotations

from tests.metrics.support import (
    HARTLEPOOL,
    MIDDLEHAVEN,
    MIDDLESBROUGH,
    VICTORIA,
    add_report,
    at,
    get,
)

URL = "/v1/metrics/issues"
Q3_2025 = {"from": "2025-10", "to": "2025-12"}
CONTROL_ROOM = "passed_to_force_control_room"


def arrange(app) -> None:
    when = at(2025, 11, 5)
    add_report(app, "asb", when, outcome=CONTROL_ROOM)
    add_report(app, "asb", when, outcome=CONTROL_ROOM)
    add_report(app, "asb", when)  # no decision yet
    add_report(app, "fly_tipping", when, destination="council", outcome="referred_to_partner")
    add_report(app, "drugs", when, ward=VICTORIA, authority=HARTLEPOOL, outcome=CONTROL_ROOM)
    add_report(app, "drugs", when, ward=VICTORIA, authority=HARTLEPOOL, outcome=CONTROL_ROOM)
    add_report(app, "question", when, ward=None, authority=None, destination="opcc")
    add_report(app, "asb", at(2025, 9, 30))  # the quarter before


def test_most_common_categories_first_with_their_share(app, client, analyst):
    arrange(app)

    response = get(client, analyst, URL, **Q3_2025)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == 7
    assert [(c["code"], c["count"], c["share_percent"]) for c in body["categories"]] == [
        ("asb", 3, 42.9),
        ("drugs", 2, 28.6),
        ("fly_tipping", 1, 14.3),
        ("question", 1, 14.3),
    ]
    assert body["categories"][0]["group"] == "policing"
    assert body["categories"][0]["name"] == "Antisocial behaviour"


def test_limit_keeps_the_top_categories(app, client, analyst):
    arrange(app)

    body = get(client, analyst, URL, limit=2, **Q3_2025).get_json()

    assert [c["code"] for c in body["categories"]] == ["asb", "drugs"]


def test_outcomes_and_destinations_by_local_authority(app, client, analyst):
    arrange(app)

    body = get(client, analyst, URL, **Q3_2025).get_json()

    assert body["level"] == "local_authority"
    by_code = {a["code"]: a for a in body["by_area"]}
    assert len(by_code) == 4
    assert by_code[MIDDLESBROUGH] == {
        "code": MIDDLESBROUGH,
        "name": "Middlesbrough",
        "level": "local_authority",
        "count": 4,
        "outcomes": {CONTROL_ROOM: 2, "none_recorded": 1, "referred_to_partner": 1},
        "destinations": {"police": 3, "council": 1},
    }
    assert by_code[HARTLEPOOL]["outcomes"] == {CONTROL_ROOM: 2}
    assert body["by_area"][0]["code"] == MIDDLESBROUGH  # most reports first
    assert body["without_area"] == 1  # the question had no location


def test_outcomes_by_ward_within_an_authority(app, client, analyst):
    arrange(app)

    body = get(client, analyst, URL, level="ward", area=MIDDLESBROUGH, **Q3_2025).get_json()

    assert body["level"] == "ward"
    assert body["total"] == 4
    first = body["by_area"][0]
    assert (first["code"], first["name"], first["level"]) == (MIDDLEHAVEN, "Middlehaven", "ward")
    assert first["outcomes"] == {CONTROL_ROOM: 2, "none_recorded": 1, "referred_to_partner": 1}
    assert VICTORIA not in {a["code"] for a in body["by_area"]}
    assert all(a["count"] == 0 for a in body["by_area"][1:])


def test_bad_level_or_limit_is_refused(client, analyst):
    for params, field in (({"level": "country"}, "level"), ({"limit": 0}, "limit")):
        response = get(client, analyst, URL, **params)
        assert response.status_code == 422
        assert field in response.get_json()["errors"]
