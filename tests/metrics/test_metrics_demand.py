"""GET /v1/metrics/demand: how much demand the app takes off the force's call handlers (DOMAIN.md
"Demand reduction")."""

from __future__ import annotations

from copa.periods import Quarter, today_london
from tests.factories import bearer, register_device
from tests.metrics.support import (
    HARTLEPOOL,
    PROBLEM_JSON,
    VICTORIA,
    add_call_statistics,
    add_feedback,
    add_report,
    at,
    get,
)

URL = "/v1/metrics/demand"
Q3_2025 = {"from": "2025-10", "to": "2025-12"}
IN_MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}


def arrange_quarter(app) -> None:
    """2025/26 Q3: eight reports and questions, two pieces of feedback."""
    when = at(2025, 11, 5)
    for answer in ("yes", "yes", "no"):
        add_report(app, "asb", when, would_have_called_101=answer)
    add_report(app, "question", when, destination="opcc", would_have_called_101="not_sure")
    add_report(app, "fly_tipping", when, destination="council", would_have_called_101="yes")
    add_report(app, "fly_tipping", when, destination="council", channel="open311")
    add_report(app, "welfare_concern", when, destination="health_and_social_care")
    add_report(app, "housing_asb", when, destination="housing_provider")
    add_feedback(app, "compliment", when)
    add_feedback(app, "dissatisfaction", when)


def test_submissions_by_kind_category_and_channel(app, client, analyst):
    arrange_quarter(app)

    response = get(client, analyst, URL, **Q3_2025)

    assert response.status_code == 200, response.get_json()
    (quarter,) = response.get_json()["quarters"]
    assert quarter["label"] == "2025/26 Q3"
    assert quarter["submissions"] == {"report": 7, "question": 1, "feedback": 2, "total": 10}
    assert quarter["by_category"][:2] == [
        {"code": "asb", "name": "Antisocial behaviour", "count": 3},
        {"code": "fly_tipping", "name": quarter["by_category"][1]["name"], "count": 2},
    ]
    assert {c["code"]: c["count"] for c in quarter["by_category"]}["question"] == 1
    assert quarter["by_channel"] == {"app": 9, "open311": 1}


def test_reports_sent_straight_to_partners_outside_the_police_are_demand_diverted(
    app, client, analyst
):
    arrange_quarter(app)

    (quarter,) = get(client, analyst, URL, **Q3_2025).get_json()["quarters"]

    # Two to councils, one to health and social care, one to a landlord; not the force or OPCC.
    assert quarter["referred_to_partners"] == 4


def test_101_answers_give_calls_avoided_and_minutes_saved_at_the_configured_rate(
    app, client, analyst
):
    arrange_quarter(app)

    (quarter,) = get(client, analyst, URL, **Q3_2025).get_json()["quarters"]

    assert quarter["would_have_called_101"] == {
        "yes": 3,
        "no": 1,
        "not_sure": 1,
        "unanswered": 3,
    }
    assert quarter["calls_avoided"] == 3
    assert quarter["minutes_per_call"] == 5.0
    assert quarter["minutes_saved"] == 15.0
    assert quarter["call_statistics"] is None
    assert quarter["change_against_baseline"] is None


def test_minutes_per_call_is_a_setting(app, client, analyst, monkeypatch):
    arrange_quarter(app)
    monkeypatch.setitem(app.config, "CALL_HANDLER_MINUTES_PER_CALL", 3.5)

    (quarter,) = get(client, analyst, URL, **Q3_2025).get_json()["quarters"]

    assert quarter["minutes_per_call"] == 3.5 and quarter["minutes_saved"] == 10.5


def test_imported_handling_time_and_change_against_the_same_quarter_a_year_before(
    app, client, analyst
):
    arrange_quarter(app)
    add_call_statistics(app, 2025, 3, 51920, 84.6, 95, handling_seconds=240)
    add_call_statistics(app, 2024, 3, 55000, 67.9, 115)

    (quarter,) = get(client, analyst, URL, **Q3_2025).get_json()["quarters"]

    assert quarter["minutes_per_call"] == 4.0
    assert quarter["minutes_saved"] == 12.0
    assert quarter["call_statistics"]["non_emergency_calls"] == 51920
    assert quarter["call_statistics"]["answered_within_2_minutes_percent"] == 84.6
    assert quarter["change_against_baseline"] == {
        "non_emergency_calls_percent": -5.6,
        "answered_within_2_minutes_points": 16.7,
        "average_wait_seconds": -20,
    }


def test_a_chosen_baseline_year_is_compared_instead(app, client, analyst):
    add_call_statistics(app, 2025, 3, 51920, 84.6, 95)
    add_call_statistics(app, 2024, 3, 55000, 67.9, 115)
    add_call_statistics(app, 2022, 3, 64900, 60.0, 200)

    chosen = get(client, analyst, URL, baseline_year=2022, **Q3_2025).get_json()
    missing = get(client, analyst, URL, baseline_year=2023, **Q3_2025).get_json()

    assert chosen["baseline_year"] == 2022
    assert chosen["quarters"][0]["change_against_baseline"] == {
        "non_emergency_calls_percent": -20.0,
        "answered_within_2_minutes_points": 24.6,
        "average_wait_seconds": -105,
    }
    # Statistics for this quarter but none for 2023/24's: there is nothing to compare with.
    assert missing["quarters"][0]["call_statistics"] is not None
    assert missing["quarters"][0]["change_against_baseline"] is None


def test_totals_add_up_the_quarters(app, client, analyst):
    arrange_quarter(app)
    add_report(app, "asb", at(2025, 7, 1), would_have_called_101="yes")

    body = get(client, analyst, URL, **{"from": "2025-07", "to": "2025-12"}).get_json()

    assert [q["label"] for q in body["quarters"]] == ["2025/26 Q2", "2025/26 Q3"]
    assert body["totals"]["submissions"]["total"] == 11
    assert body["totals"]["calls_avoided"] == 4
    assert body["totals"]["minutes_saved"] == 20.0
    assert body["totals"]["by_category"][0] == {
        "code": "asb",
        "name": "Antisocial behaviour",
        "count": 4,
    }


def test_area_filter_counts_only_submissions_there(app, client, analyst):
    arrange_quarter(app)
    add_report(app, "asb", at(2025, 11, 5), ward=VICTORIA, authority=HARTLEPOOL)
    add_feedback(app, "suggestion", at(2025, 11, 5), ward=VICTORIA, authority=HARTLEPOOL)

    hartlepool = get(client, analyst, URL, area=HARTLEPOOL, **Q3_2025).get_json()
    ward = get(client, analyst, URL, area=VICTORIA, **Q3_2025).get_json()

    assert hartlepool["quarters"][0]["submissions"] == {
        "report": 1,
        "question": 0,
        "feedback": 1,
        "total": 2,
    }
    assert ward["quarters"][0]["submissions"]["total"] == 2
    assert ward["area"]["level"] == "ward"


def test_a_report_submitted_through_the_app_counts_at_once(app, client, analyst):
    resident = bearer(register_device(client)["access_token"])
    body = {
        "category": "noise",
        "description": "Loud music every night from the flat above.",
        "location": IN_MIDDLEHAVEN,
        "would_have_called_101": "yes",
    }
    assert client.post("/v1/reports", json=body, headers=resident).status_code == 201
    month = today_london().strftime("%Y-%m")

    (quarter,) = get(client, analyst, URL, **{"from": month, "to": month}).get_json()["quarters"]

    assert quarter["label"] == Quarter.of(today_london()).label
    assert quarter["submissions"]["report"] == 1
    assert quarter["referred_to_partners"] == 1  # the council of the area
    assert quarter["calls_avoided"] == 1


def test_a_baseline_year_outside_the_calendar_is_refused(client, analyst):
    response = get(client, analyst, URL, baseline_year=1066)

    assert response.status_code == 422 and response.mimetype == PROBLEM_JSON
    assert "baseline_year" in response.get_json()["errors"]
