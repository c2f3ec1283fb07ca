"""GET /v1/pcc-report: the Commissioner's quarterly report, the baseline year's four quarters
beside the current year's, as JSON, CSV or a printable page (issue 6, item 4)."""

from __future__ import annotations

import pytest

from copa.periods import Quarter, today_london
from tests.factories import bearer, load_reference_data, signed_in
from tests.metrics.support import (
    HARTLEPOOL,
    PROBLEM_JSON,
    VICTORIA,
    add_call_statistics,
    add_feedback,
    add_referral,
    add_report,
    add_votes,
    at,
    get,
)

URL = "/v1/pcc-report"
REPORT_2025_Q2 = {"year": 2025, "quarter": 2}
SECTIONS = ("public_confidence", "demand_reduction", "feedback_and_complaints")


@pytest.fixture
def cleveland(app):
    """Areas, seed categories, the demo partners and their routing rules."""
    load_reference_data(app)


@pytest.fixture
def analyst(app, client, cleveland):
    return bearer(signed_in(app, client, "analyst")["access_token"])


@pytest.fixture
def arranged(app, cleveland):
    """A little of everything in 2024/25 Q2, 2025/26 Q1 and Q2, and (not yet reported) Q3."""
    add_votes(app, {"quite_confident": 6, "neither": 3, "not_very_confident": 1}, at(2024, 8, 1))
    add_votes(app, {"very_confident": 4, "not_at_all_confident": 1}, at(2025, 5, 1))
    add_votes(
        app,
        {"quite_confident": 300, "very_confident": 150, "neither": 300}
        | {"not_very_confident": 150, "not_at_all_confident": 100},
        at(2025, 8, 1),
    )
    add_votes(app, {"very_confident": 7}, at(2025, 11, 1))  # after the reported quarter
    for when in (at(2024, 8, 2), at(2025, 8, 2), at(2025, 8, 3)):
        add_report(app, "asb", when, would_have_called_101="yes", outcome="signposted")
    add_report(app, "fly_tipping", at(2025, 8, 4), destination="council")
    add_report(app, "drugs", at(2025, 8, 5), ward=VICTORIA, authority=HARTLEPOOL)
    add_report(app, "question", at(2025, 8, 5), ward=None, authority=None, destination="opcc")
    add_report(app, "asb", at(2025, 11, 5), would_have_called_101="yes")
    add_feedback(app, "compliment", at(2025, 8, 6))
    add_feedback(
        app,
        "dissatisfaction",
        at(2025, 8, 6),
        contacted_after=5400,
        service_recovery=True,
        satisfaction=(5, at(2025, 9, 1)),
        allegations=("individual_behaviour",),
    )
    # A fly-tipping report of its own, referred to the council.
    add_referral(app, "middlesbrough-council", at(2025, 8, 7), acknowledged_after=3000)
    add_call_statistics(app, 2024, 2, 55000, 67.9, 115)
    add_call_statistics(app, 2025, 2, 51920, 84.6, 95, handling_seconds=240)


def report(client, headers, **params):
    response = get(client, headers, URL, **{**REPORT_2025_Q2, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_report_names_its_quarter_and_years(client, analyst, arranged):
    body = report(client, analyst)

    assert body["title"] == "COPA quarterly performance report"
    assert body["organisation"] == "Office of the Police and Crime Commissioner for Cleveland"
    assert body["quarter"] == {"fiscal_year": 2025, "quarter": 2, "label": "2025/26 Q2"}
    assert body["current_year"] == {"fiscal_year": 2025, "label": "2025/26"}
    assert body["baseline_year"] == {"fiscal_year": 2024, "label": "2024/25"}
    assert body["generated_at"].endswith("+00:00")
    assert any("Crime Survey for England and Wales" in caveat for caveat in body["caveats"])


def test_each_section_has_eight_quarters_and_later_ones_are_not_reported(client, analyst, arranged):
    body = report(client, analyst)

    for section in SECTIONS:
        rows = body[section]["quarters"]
        assert [row["label"] for row in rows] == [
            *(f"2024/25 Q{q}" for q in range(1, 5)),
            *(f"2025/26 Q{q}" for q in range(1, 5)),
        ], section
        assert [row["reported"] for row in rows] == [True] * 6 + [False] * 2, section
        for row in rows[6:]:
            measures = {
                k: v for k, v in row.items() if k not in ("fiscal_year", "quarter", "label")
            }
            assert set(measures.values()) == {False, None}, (section, row)
    # The votes cast in Q3 exist but are not shown in a Q2 report.
    assert body["public_confidence"]["quarters"][6]["n"] is None


def test_the_acceptance_figures_appear_in_the_report(client, analyst, arranged):
    body = report(client, analyst)

    q2 = body["public_confidence"]["quarters"][5]
    assert q2["n"] == 1000 and q2["percent_confident"] == 45.0
    assert q2["interval"] == {"lower": 41.9, "upper": 48.1} and q2["net_confidence"] == 20.0
    empty = body["public_confidence"]["quarters"][0]
    assert empty["reported"] is True and empty["n"] == 0 and empty["percent_confident"] is None
    assert body["public_confidence"]["context"]["cleveland_percent"] == 69
    assert [o["key"] for o in body["public_confidence"]["options"]][0] == "not_at_all_confident"


@pytest.mark.parametrize(
    ("section", "metrics_url", "params"),
    [
        ("public_confidence", "/v1/metrics/confidence", {}),
        ("demand_reduction", "/v1/metrics/demand", {"baseline_year": 2024}),
        ("feedback_and_complaints", "/v1/metrics/feedback", {}),
    ],
)
def test_quarter_rows_carry_the_metrics_api_s_numbers(
    client, analyst, arranged, section, metrics_url, params
):
    body = report(client, analyst)
    metrics = get(
        client, analyst, metrics_url, **{"from": "2024-04", "to": "2025-09"}, **params
    ).get_json()
    series = metrics.get("groups") or metrics["quarters"]
    by_label = {row["label"]: row for row in series}

    for row in body[section]["quarters"][:6]:
        expected = by_label[row["label"]]
        for key, value in row.items():
            if key == "reported":
                continue
            if key == "call_statistics" and value is not None:
                value = {k: expected[key][k] for k in value}  # the report shows three figures
                assert row[key] == value
                continue
            if key == "change_against_baseline" and row["fiscal_year"] == 2024:
                assert value is None  # the baseline year is not compared with itself
                continue
            if key == "click_throughs":
                expected_clicks = clicks_as_in_the_report(
                    expected[key], body[section], in_baseline=row["fiscal_year"] == 2024
                )
                assert value == expected_clicks, row["label"]
                continue
            assert value == expected[key], (row["label"], key)


def clicks_as_in_the_report(clicks: dict, section: dict, *, in_baseline: bool) -> dict:
    """The metrics API's click-throughs of a quarter as the report's row shows them: every topic
    and destination kind of the section's lists, 0 when none; no change in the baseline year."""
    total = clicks["total"]

    def every(items: list[dict], key: str, keys: list[dict]) -> dict:
        found = {item[key]: item for item in items}
        none = {"count": 0, "share_percent": 0.0 if total else None}
        return {
            k["key"]: {n: found[k["key"]][n] for n in none} if k["key"] in found else none
            for k in keys
        }

    return {
        "total": total,
        "by_topic": every(clicks["by_topic"], "topic", section["topics"]),
        "by_destination_kind": every(
            clicks["by_destination_kind"], "destination_kind", section["destination_kinds"]
        ),
        "change_against_baseline": None if in_baseline else clicks["change_against_baseline"],
    }


def test_demand_compares_with_the_baseline_year(client, analyst, arranged):
    body = report(client, analyst)["demand_reduction"]

    q2 = body["quarters"][5]
    assert q2["submissions"] == {"report": 5, "question": 1, "feedback": 2, "total": 8}
    assert q2["calls_avoided"] == 2 and q2["minutes_saved"] == 8.0
    assert q2["call_statistics"] == {
        "non_emergency_calls": 51920,
        "answered_within_2_minutes_percent": 84.6,
        "average_wait_seconds": 95,
    }
    assert q2["change_against_baseline"] == {
        "non_emergency_calls_percent": -5.6,
        "answered_within_2_minutes_points": 16.7,
        "average_wait_seconds": -20,
    }
    assert body["quarters"][1]["change_against_baseline"] is None
    assert body["quarters"][4]["change_against_baseline"] is None  # Q1 has no statistics
    assert body["minutes_per_call"] == 4.0  # the reported quarter's handling time


def test_issues_and_partners_are_those_of_the_reported_quarter(client, analyst, arranged):
    body = report(client, analyst)
    metrics_issues = get(
        client, analyst, "/v1/metrics/issues", **{"from": "2025-07", "to": "2025-09"}
    ).get_json()
    metrics_partners = get(
        client, analyst, "/v1/metrics/partners", **{"from": "2025-07", "to": "2025-09"}
    ).get_json()

    issues = body["most_common_issues"]
    assert issues["quarter"]["label"] == "2025/26 Q2"
    assert issues["categories"][0] == {
        "code": "asb",
        "name": "Antisocial behaviour",
        "count": 2,
        "share_percent": 33.3,
    }
    assert [c["count"] for c in issues["categories"]] == [
        c["count"] for c in metrics_issues["categories"]
    ]
    middlesbrough = issues["by_local_authority"][0]
    assert middlesbrough["name"] == "Middlesbrough" and middlesbrough["count"] == 4
    assert middlesbrough["outcomes"] == {"signposted": 2, "none_recorded": 2}
    assert set(middlesbrough) == {"code", "name", "count", "outcomes"}
    partners = body["partner_performance"]
    assert partners["partners"] == metrics_partners["partners"]
    assert partners["partners"][0]["code"] == "middlesbrough-council"


def test_feedback_section_lists_the_four_allegation_groups(client, analyst, arranged):
    body = report(client, analyst)["feedback_and_complaints"]

    assert [g["label"] for g in body["allegation_groups"]] == [
        "Delivery of duties and services",
        "Police powers, policies and procedures",
        "Individual behaviour",
        "All other complaints",
    ]
    q2 = body["quarters"][5]
    assert q2["complaints_logged"] == 1 and q2["allegations"]["individual_behaviour"] == 1
    assert q2["median_time_to_first_contact_seconds"] == 5400
    assert q2["satisfaction"] == {"answers": 1, "satisfied": 1, "rate_percent": 100.0}


def test_another_baseline_year_can_be_chosen(client, analyst, arranged):
    body = report(client, analyst, baseline_year=2023)

    assert body["baseline_year"] == {"fiscal_year": 2023, "label": "2023/24"}
    labels = [row["label"] for row in body["public_confidence"]["quarters"]]
    assert labels[:4] == [f"2023/24 Q{q}" for q in range(1, 5)]
    assert body["demand_reduction"]["quarters"][5]["change_against_baseline"] is None


# --- content negotiation --------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*"])
def test_json_is_the_default(client, analyst, arranged, accept):
    headers = {**analyst, **({"Accept": accept} if accept else {})}

    response = client.get(URL, query_string=REPORT_2025_Q2, headers=headers)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Vary"] == "Accept"


def test_csv_is_an_attachment_with_the_same_numbers(client, analyst, arranged):
    response = client.get(
        URL, query_string=REPORT_2025_Q2, headers={**analyst, "Accept": "text/csv"}
    )

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="pcc-report-2025-26-q2.csv"'
    )
    assert "Accept" in response.headers["Vary"]
    text = response.get_data(as_text=True)
    assert "percent_confident" in text and "45.0" in text


def test_html_is_a_printable_page_with_the_same_numbers(client, analyst, arranged):
    response = client.get(
        URL,
        query_string=REPORT_2025_Q2,
        headers={**analyst, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"},
    )

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    text = response.get_data(as_text=True)
    assert "45.0" in text and "<svg" in text


def test_a_preferred_type_wins_by_quality(client, analyst, arranged):
    response = client.get(
        URL,
        query_string=REPORT_2025_Q2,
        headers={**analyst, "Accept": "application/json;q=0.5, text/csv"},
    )

    assert response.mimetype == "text/csv"


@pytest.mark.parametrize("accept", ["application/xml", "image/png", "text/csv;q=0"])
def test_an_unacceptable_type_is_406(client, analyst, accept):
    response = client.get(URL, query_string=REPORT_2025_Q2, headers={**analyst, "Accept": accept})

    assert response.status_code == 406
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["status"] == 406


# --- refusals -------------------------------------------------------------------------------


def test_a_quarter_that_has_not_started_is_refused(client, analyst):
    upcoming = Quarter.of(today_london()).next()

    response = get(client, analyst, URL, year=upcoming.fiscal_year, quarter=upcoming.quarter)
    current = get(
        client, analyst, URL, **{"year": Quarter.of(today_london()).fiscal_year}, quarter=1
    )

    assert response.status_code == 422 and response.mimetype == PROBLEM_JSON
    errors = response.get_json()["errors"]
    assert "quarter" in errors or "year" in errors
    assert current.status_code == 200  # this year's first quarter has started


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year": 2025, "quarter": 5}, "quarter"),
        ({"year": 2025}, "quarter"),
        ({"quarter": 1}, "year"),
        ({"year": "twenty", "quarter": 1}, "year"),
        ({"year": 2025, "quarter": 1, "baseline_year": 2025}, "baseline_year"),
        ({"year": 2025, "quarter": 1, "baseline_year": 2026}, "baseline_year"),
        ({"year": 2999, "quarter": 1}, "year"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(client, analyst, params, field):
    response = get(client, analyst, URL, **params)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["resident", "reviewer", "resolution", "partner"])
def test_only_analysts_and_admins_read_the_report(app, client, cleveland, role):
    headers = bearer(signed_in(app, client, role)["access_token"])

    assert get(client, headers, URL, **REPORT_2025_Q2).status_code == 403


def test_an_admin_reads_the_report(app, client, cleveland):
    headers = bearer(signed_in(app, client, "admin")["access_token"])

    assert get(client, headers, URL, **REPORT_2025_Q2).status_code == 200
