"""Event tallies: staff enter the counts from a physical counter session (event name, date,
area); the quarter is the one the event date falls in (DOMAIN.md)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from copa.areas.service import import_bundled
from copa.confidence.models import Tally
from copa.db import db
from copa.periods import today_london
from tests.factories import bearer, login, signed_in, user_with_role

URL = "/v1/staff/confidence/tallies"
PROBLEM_JSON = "application/problem+json"
MIDDLEHAVEN = "E05001497"  # a ward of Middlesbrough
MIDDLESBROUGH = "E06000002"
HARTLEPOOL = "E06000001"
COUNTS = {
    "not_at_all_confident": 3,
    "not_very_confident": 5,
    "neither": 12,
    "quite_confident": 30,
    "very_confident": 10,
}


@pytest.fixture
def cleveland(app):
    """The four bundled local authorities and their wards, for this test only."""
    with app.app_context():
        import_bundled()


@pytest.fixture
def reviewer(app, client):
    return bearer(signed_in(app, client, "reviewer")["access_token"])


def tally(**overrides) -> dict:
    return {
        "event_name": "Middlesbrough Mela",
        "event_date": "2025-08-16",
        "area": MIDDLEHAVEN,
        "counts": dict(COUNTS),
        **overrides,
    }


def enter(client, headers, body, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(URL, json=body, headers={**headers, **extra})


def stored_tallies(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Tally))


# --- entering a tally ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "analyst", "admin"])
def test_staff_enter_a_tally_and_it_lands_in_the_event_s_quarter(app, client, cleveland, role):
    user = user_with_role(app, role)
    headers = bearer(login(client, user.email)["access_token"])

    response = enter(client, headers, tally(event_name="  Middlesbrough Mela  "))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "event_name": "Middlesbrough Mela",
        "event_date": "2025-08-16",
        "area": {"code": MIDDLEHAVEN, "name": "Middlehaven", "level": "ward"},
        "quarter": {"fiscal_year": 2025, "quarter": 2, "label": "2025/26 Q2"},
        "counts": COUNTS,
        "total": 60,
        "entered_by": str(user.id),
        "created_at": body["created_at"],
    }
    with app.app_context():
        stored = db.session.get(Tally, uuid.UUID(body["id"]))
        assert stored.local_authority_code == MIDDLESBROUGH
        assert (stored.fiscal_year, stored.fiscal_quarter) == (2025, 2)


def test_tally_for_a_local_authority(client, reviewer, cleveland):
    response = enter(client, reviewer, tally(area=HARTLEPOOL))

    assert response.status_code == 201
    assert response.get_json()["area"] == {
        "code": HARTLEPOOL,
        "name": "Hartlepool",
        "level": "local_authority",
    }


def test_an_event_on_31_march_counts_in_q4_and_on_1_april_in_q1(client, reviewer, cleveland):
    march = enter(client, reviewer, tally(event_date="2025-03-31")).get_json()
    april = enter(client, reviewer, tally(event_date="2025-04-01")).get_json()

    assert march["quarter"]["label"] == "2024/25 Q4"
    assert april["quarter"]["label"] == "2025/26 Q1"


def test_an_event_today_and_one_with_a_single_counter_are_accepted(client, reviewer, cleveland):
    counts = dict.fromkeys(COUNTS, 0) | {"neither": 1}
    response = enter(client, reviewer, tally(event_date=today_london().isoformat(), counts=counts))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == 1


def test_a_repeated_submission_with_the_same_key_is_stored_once(app, client, reviewer, cleveland):
    first = enter(client, reviewer, tally(), key="tally-1")
    again = enter(client, reviewer, tally(), key="tally-1")

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert stored_tallies(app) == 1


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"counts": COUNTS | {"neither": -1}}, "counts.neither"),
        ({"counts": COUNTS | {"very_confident": 100_001}}, "counts.very_confident"),
        ({"counts": COUNTS | {"quite_confident": 2.5}}, "counts.quite_confident"),
        ({"counts": COUNTS | {"quite_confident": "30"}}, "counts.quite_confident"),
        ({"counts": dict.fromkeys(COUNTS, 0)}, "counts"),
        ({"counts": {k: v for k, v in COUNTS.items() if k != "neither"}}, "counts.neither"),
        ({"counts": COUNTS | {"fairly_confident": 1}}, "counts.fairly_confident"),
        ({"event_date": (today_london() + timedelta(days=1)).isoformat()}, "event_date"),
        ({"event_date": "2019-12-31"}, "event_date"),
        ({"event_date": "2025-02-30"}, "event_date"),
        ({"event_name": ""}, "event_name"),
        ({"event_name": "   "}, "event_name"),
        ({"event_name": "x" * 201}, "event_name"),
        ({"event_name": "Mela\x00"}, "event_name"),
        ({"area": "E05999999"}, "area"),
        ({"area": "Middlesbrough"}, "area"),
        ({"entered_by": str(uuid.uuid4())}, "entered_by"),
        ({"fiscal_year": 2020}, "fiscal_year"),
    ],
)
def test_bad_tally_is_422_naming_the_field_and_stores_nothing(
    app, client, reviewer, cleveland, overrides, field
):
    response = enter(client, reviewer, tally(**overrides))

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    assert field in response.get_json()["errors"]
    assert stored_tallies(app) == 0


@pytest.mark.parametrize("missing", ["event_name", "event_date", "area", "counts"])
def test_tally_without_a_required_field_is_422(app, client, reviewer, cleveland, missing):
    body = tally()
    del body[missing]

    response = enter(client, reviewer, body)

    assert response.status_code == 422
    assert missing in response.get_json()["errors"]
    assert stored_tallies(app) == 0


# --- who may enter and read tallies -------------------------------------------------------


@pytest.mark.parametrize("role", ["resident", "partner", "resolution"])
def test_residents_partners_and_the_resolution_team_get_403(app, client, cleveland, role):
    headers = bearer(signed_in(app, client, role)["access_token"])

    posted = enter(client, headers, tally())
    listed = client.get(URL, headers=headers)

    assert posted.status_code == listed.status_code == 403
    assert posted.mimetype == PROBLEM_JSON
    assert stored_tallies(app) == 0


def test_tallies_need_a_token(client):
    assert client.get(URL).status_code == 401
    assert enter(client, {}, tally()).status_code == 401


# --- listing tallies ----------------------------------------------------------------------


@pytest.fixture
def three_tallies(client, reviewer, cleveland):
    for name, day, area in [
        ("Summer fair", "2025-08-16", MIDDLEHAVEN),  # 2025/26 Q2, Middlesbrough
        ("Winter market", "2025-12-06", HARTLEPOOL),  # 2025/26 Q3
        ("Spring walk", "2025-05-10", MIDDLESBROUGH),  # 2025/26 Q1
    ]:
        assert (
            enter(client, reviewer, tally(event_name=name, event_date=day, area=area)).status_code
            == 201
        )


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["event_name"] for item in response.get_json()["items"]]


@pytest.mark.parametrize("role", ["reviewer", "analyst", "admin"])
def test_staff_list_tallies_newest_event_first(app, client, three_tallies, role):
    headers = bearer(signed_in(app, client, role)["access_token"])

    response = client.get(URL, headers=headers)

    assert names(response) == ["Winter market", "Summer fair", "Spring walk"]
    assert response.get_json()["total"] == 3


def test_tallies_filtered_by_local_authority_include_its_wards(client, reviewer, three_tallies):
    response = client.get(URL, query_string={"area": MIDDLESBROUGH}, headers=reviewer)

    assert names(response) == ["Summer fair", "Spring walk"]


def test_tallies_filtered_by_ward(client, reviewer, three_tallies):
    response = client.get(URL, query_string={"area": MIDDLEHAVEN}, headers=reviewer)

    assert names(response) == ["Summer fair"]


def test_tallies_filtered_by_quarter(client, reviewer, three_tallies):
    q3 = client.get(URL, query_string={"fiscal_year": 2025, "quarter": 3}, headers=reviewer)
    other_year = client.get(URL, query_string={"fiscal_year": 2024}, headers=reviewer)

    assert names(q3) == ["Winter market"]
    assert names(other_year) == []


def test_tallies_are_paginated(client, reviewer, three_tallies):
    response = client.get(URL, query_string={"page": 2, "page_size": 2}, headers=reviewer)

    assert names(response) == ["Spring walk"]
    assert response.get_json()["total"] == 3


@pytest.mark.parametrize(
    "query",
    [
        {"fiscal_year": 1999},
        {"fiscal_year": 2101},
        {"quarter": 0},
        {"quarter": 5},
        {"area": "nowhere"},
        {"page_size": 101},
        {"sort": "oldest"},
    ],
)
def test_bad_tally_query_is_422_naming_the_parameter(client, reviewer, query):
    response = client.get(URL, query_string=query, headers=reviewer)

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == set(query)
