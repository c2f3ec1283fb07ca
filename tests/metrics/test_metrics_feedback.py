"""GET /v1/metrics/feedback: complaints, their allegations and handling, satisfaction and
compliments per quarter (DOMAIN.md "Feedback and complaints")."""

from __future__ import annotations

from tests.metrics.support import HARTLEPOOL, MIDDLESBROUGH, VICTORIA, add_feedback, at, get

URL = "/v1/metrics/feedback"
Q3_2025 = {"from": "2025-10", "to": "2025-12"}
HOUR = 3600


def arrange(app) -> None:
    when = at(2025, 11, 5)
    add_feedback(app, "compliment", when)
    add_feedback(app, "compliment", at(2025, 10, 1))
    add_feedback(app, "suggestion", when)
    add_feedback(
        app,
        "dissatisfaction",
        when,
        contacted_after=HOUR,
        service_recovery=True,
        satisfaction=(5, at(2025, 12, 1)),
        allegations=("delivery_of_duties_and_services", "delivery_of_duties_and_services"),
    )
    add_feedback(
        app,
        "dissatisfaction",
        when,
        contacted_after=2 * HOUR,
        escalated=True,
        service_recovery=True,  # tried first, then escalated: counts as escalated only
        allegations=("individual_behaviour",),
    )
    add_feedback(
        app, "dissatisfaction", when, contacted_after=HOUR / 2, satisfaction=(2, at(2025, 12, 10))
    )
    add_feedback(app, "dissatisfaction", when, allegations=("other",))  # not contacted yet
    # Logged in Q2, answered the satisfaction question in Q3.
    add_feedback(
        app,
        "dissatisfaction",
        at(2025, 9, 20),
        contacted_after=100,
        satisfaction=(4, at(2025, 10, 5)),
    )


def test_a_quarter_of_complaints_as_the_resolution_team_reports_it(app, client, analyst):
    arrange(app)

    response = get(client, analyst, URL, **Q3_2025)

    assert response.status_code == 200, response.get_json()
    (quarter,) = response.get_json()["quarters"]
    assert quarter == {
        "fiscal_year": 2025,
        "quarter": 3,
        "label": "2025/26 Q3",
        "complaints_logged": 4,
        "allegations": {
            "delivery_of_duties_and_services": 2,
            "police_powers_policies_and_procedures": 0,
            "individual_behaviour": 1,
            "other": 1,
        },
        "escalated": 1,
        "service_recovery": 1,
        "median_time_to_first_contact_seconds": HOUR,
        # Answers given in the quarter, whichever quarter the case was logged in.
        "satisfaction": {"answers": 3, "satisfied": 2, "rate_percent": 66.7},
        "compliments": 2,
        "suggestions": 1,
    }


def test_the_median_of_an_even_number_of_cases_is_the_mean_of_the_middle_two(app, client, analyst):
    for seconds in (600, 1200, 1800, 99999):
        add_feedback(app, "dissatisfaction", at(2025, 11, 5), contacted_after=seconds)

    (quarter,) = get(client, analyst, URL, **Q3_2025).get_json()["quarters"]

    assert quarter["median_time_to_first_contact_seconds"] == 1500


def test_a_quarter_without_complaints_has_null_median_and_rate(app, client, analyst):
    add_feedback(app, "compliment", at(2025, 11, 5))

    (quarter,) = get(client, analyst, URL, **Q3_2025).get_json()["quarters"]

    assert quarter["complaints_logged"] == 0
    assert quarter["median_time_to_first_contact_seconds"] is None
    assert quarter["satisfaction"] == {"answers": 0, "satisfied": 0, "rate_percent": None}


def test_area_filter_applies_to_complaints_but_not_to_allegations(app, client, analyst):
    arrange(app)
    add_feedback(
        app,
        "dissatisfaction",
        at(2025, 11, 6),
        ward=VICTORIA,
        authority=HARTLEPOOL,
        contacted_after=60,
        escalated=True,
        allegations=("police_powers_policies_and_procedures",),
    )

    middlesbrough = get(client, analyst, URL, area=MIDDLESBROUGH, **Q3_2025).get_json()
    hartlepool = get(client, analyst, URL, area=HARTLEPOOL, **Q3_2025).get_json()

    assert middlesbrough["quarters"][0]["complaints_logged"] == 4
    assert hartlepool["quarters"][0]["complaints_logged"] == 1
    assert hartlepool["quarters"][0]["escalated"] == 1
    assert hartlepool["quarters"][0]["median_time_to_first_contact_seconds"] == 60
    # Allegations have no area: both show the force-wide figures.
    for body in (middlesbrough, hartlepool):
        assert body["quarters"][0]["allegations"]["police_powers_policies_and_procedures"] == 1
        assert body["quarters"][0]["allegations"]["delivery_of_duties_and_services"] == 2


def test_quarters_are_cut_in_london_time(app, client, analyst):
    # 23:30 BST on 30 September 2025 is 22:30 UTC: still Q2.
    from datetime import UTC, datetime

    add_feedback(
        app, "dissatisfaction", datetime(2025, 9, 30, 22, 30, tzinfo=UTC), contacted_after=5
    )
    add_feedback(
        app, "dissatisfaction", datetime(2025, 9, 30, 23, 30, tzinfo=UTC), contacted_after=7
    )

    body = get(client, analyst, URL, **{"from": "2025-07", "to": "2025-12"}).get_json()

    q2, q3 = body["quarters"]
    assert (q2["complaints_logged"], q2["median_time_to_first_contact_seconds"]) == (1, 5)
    assert (q3["complaints_logged"], q3["median_time_to_first_contact_seconds"]) == (1, 7)
