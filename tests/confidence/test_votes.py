"""Residents' app votes on the public-confidence question: one counted vote per resident and
quarter, whatever area it names; a new vote replaces the old one and the history is kept
(DOMAIN.md)."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from copa.areas.service import import_bundled
from copa.confidence import service
from copa.confidence.models import Vote
from copa.db import db
from tests.factories import bearer, register_device, signed_in

URL = "/v1/confidence/votes"
PROBLEM_JSON = "application/problem+json"
MIDDLEHAVEN = "E05001497"  # a ward of Middlesbrough
MIDDLESBROUGH = "E06000002"
HARTLEPOOL = "E06000001"
VICTORIA = "E05008952"  # a ward of Hartlepool
IN_MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}
IN_LONDON = {"lat": 51.5074, "lon": -0.1278}


@pytest.fixture
def cleveland(app):
    """The four bundled local authorities and their wards, for this test only."""
    with app.app_context():
        import_bundled()


@pytest.fixture
def resident(client):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def other_resident(client):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def clock(monkeypatch):
    """Set the service's clock: ``clock(datetime)``."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(service, "utcnow", lambda: moment)

    return set_to


def vote(client, headers, body, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(URL, json=body, headers={**headers, **extra})


def stored_votes(app) -> list[Vote]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Vote).order_by(Vote.cast_at)))


def counted(app) -> list[Vote]:
    return [v for v in stored_votes(app) if v.counted]


# --- the question -------------------------------------------------------------------------


def test_anyone_can_read_the_question_and_its_five_options_in_order(client):
    response = client.get("/v1/confidence/question")

    assert response.status_code == 200
    assert response.get_json() == {
        "question": "How confident are you in policing in your area?",
        "options": [
            {"key": "not_at_all_confident", "label": "Not at all confident", "value": 1},
            {"key": "not_very_confident", "label": "Not very confident", "value": 2},
            {"key": "neither", "label": "Neither", "value": 3},
            {"key": "quite_confident", "label": "Quite confident", "value": 4},
            {"key": "very_confident", "label": "Very confident", "value": 5},
        ],
    }


# --- casting a vote -----------------------------------------------------------------------


def test_vote_for_a_ward_is_counted_in_this_quarter(app, client, resident, cleveland, clock):
    clock(datetime(2025, 11, 5, 9, 0, tzinfo=UTC))

    response = vote(client, resident, {"option": "quite_confident", "area": MIDDLEHAVEN})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "option": "quite_confident",
        "value": 4,
        "area": {"code": MIDDLEHAVEN, "name": "Middlehaven", "level": "ward"},
        "quarter": {"fiscal_year": 2025, "quarter": 3, "label": "2025/26 Q3"},
        "counted": True,
        "replaced": False,
        "replaces": None,
        "cast_at": "2025-11-05T09:00:00+00:00",
    }
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    (stored,) = stored_votes(app)
    assert stored.local_authority_code == MIDDLESBROUGH and stored.ward_code == MIDDLEHAVEN


def test_vote_for_a_local_authority_names_the_authority(app, client, resident, cleveland):
    response = vote(client, resident, {"option": "neither", "area": HARTLEPOOL})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["area"] == {
        "code": HARTLEPOOL,
        "name": "Hartlepool",
        "level": "local_authority",
    }
    (stored,) = stored_votes(app)
    assert stored.ward_code is None and stored.local_authority_code == HARTLEPOOL


def test_vote_from_a_location_counts_for_its_ward_and_keeps_no_coordinates(
    app, client, resident, cleveland
):
    response = vote(client, resident, {"option": "very_confident", "location": IN_MIDDLEHAVEN})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["area"] == {"code": MIDDLEHAVEN, "name": "Middlehaven", "level": "ward"}
    assert "54.5762" not in response.get_data(as_text=True)
    (stored,) = stored_votes(app)
    assert stored.area_code == MIDDLEHAVEN


def test_vote_just_before_midnight_bst_on_31_march_counts_in_q4(client, resident, cleveland, clock):
    clock(datetime(2026, 3, 31, 22, 30, tzinfo=UTC))  # 23:30 BST

    body = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).get_json()

    assert body["quarter"] == {"fiscal_year": 2025, "quarter": 4, "label": "2025/26 Q4"}


def test_second_vote_in_quarter_replaces_first(app, client, resident, cleveland, clock):
    clock(datetime(2025, 10, 2, 8, 0, tzinfo=UTC))
    first = vote(client, resident, {"option": "not_very_confident", "area": MIDDLEHAVEN})
    clock(datetime(2025, 12, 20, 18, 0, tzinfo=UTC))
    second = vote(client, resident, {"option": "quite_confident", "area": MIDDLEHAVEN})

    assert first.status_code == second.status_code == 201
    assert first.get_json()["replaced"] is False
    assert second.get_json()["replaced"] is True
    assert second.get_json()["replaces"] == {
        "id": first.get_json()["id"],
        "area": {"code": MIDDLEHAVEN, "name": "Middlehaven", "level": "ward"},
    }
    assert second.get_json()["counted"] is True
    # Both are kept; only the new one counts.
    votes = stored_votes(app)
    assert [(v.option, v.counted) for v in votes] == [
        ("not_very_confident", False),
        ("quite_confident", True),
    ]
    assert votes[0].replaced_at == datetime(2025, 12, 20, 18, 0, tzinfo=UTC)
    earlier = client.get(f"{URL}/{first.get_json()['id']}", headers=resident).get_json()
    assert earlier["counted"] is False and earlier["replaced"] is False


def test_votes_in_two_quarters_both_count(app, client, resident, cleveland, clock):
    clock(datetime(2026, 3, 31, 22, 30, tzinfo=UTC))  # 23:30 BST on 31 March: 2025/26 Q4
    q4 = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).get_json()
    clock(datetime(2026, 3, 31, 23, 30, tzinfo=UTC))  # 00:30 BST on 1 April: 2026/27 Q1
    q1 = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).get_json()

    assert q4["quarter"]["label"] == "2025/26 Q4" and q1["quarter"]["label"] == "2026/27 Q1"
    assert q4["replaced"] is False and q1["replaced"] is False
    assert len(counted(app)) == 2


def test_vote_for_another_area_in_the_quarter_replaces_the_first_and_names_it(
    app, client, resident, cleveland, clock
):
    clock(datetime(2025, 10, 2, 8, 0, tzinfo=UTC))
    first = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).get_json()
    clock(datetime(2025, 11, 2, 8, 0, tzinfo=UTC))
    second = vote(client, resident, {"option": "quite_confident", "area": MIDDLESBROUGH})

    assert second.status_code == 201
    body = second.get_json()
    assert body["counted"] is True and body["replaced"] is True
    assert body["replaces"] == {
        "id": first["id"],
        "area": {"code": MIDDLEHAVEN, "name": "Middlehaven", "level": "ward"},
    }
    assert [(v.area_code, v.counted) for v in stored_votes(app)] == [
        (MIDDLEHAVEN, False),
        (MIDDLESBROUGH, True),
    ]
    # The history shows both; reading the new vote again says the same as casting it did.
    assert client.get(f"{URL}/{body['id']}", headers=resident).get_json() == body
    earlier = client.get(f"{URL}/{first['id']}", headers=resident).get_json()
    assert earlier["counted"] is False and earlier["replaces"] is None


def test_ward_then_authority_then_another_ward_leaves_one_counted_vote(
    app, client, resident, cleveland, clock
):
    areas = (MIDDLEHAVEN, MIDDLESBROUGH, VICTORIA)
    answers = []
    for day, area in enumerate(areas, start=1):
        clock(datetime(2025, 10, day, 8, 0, tzinfo=UTC))
        answers.append(vote(client, resident, {"option": "neither", "area": area}).get_json())

    assert [a["replaces"] and a["replaces"]["id"] for a in answers] == [
        None,
        answers[0]["id"],
        answers[1]["id"],
    ]
    assert [a["replaces"]["area"]["code"] for a in answers[1:]] == [MIDDLEHAVEN, MIDDLESBROUGH]
    assert [v.area_code for v in counted(app)] == [VICTORIA]
    listed = client.get(URL, headers=resident).get_json()["items"]
    assert [(v["area"]["code"], v["counted"], v["replaced"]) for v in listed] == [
        (VICTORIA, True, True),
        (MIDDLESBROUGH, False, True),
        (MIDDLEHAVEN, False, False),
    ]


def test_two_residents_voting_for_the_same_area_each_count(
    app, client, resident, other_resident, cleveland
):
    assert vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).status_code == 201
    other = vote(client, other_resident, {"option": "very_confident", "area": MIDDLEHAVEN})

    assert other.status_code == 201 and other.get_json()["replaced"] is False
    assert len(counted(app)) == 2


def test_retry_with_the_same_idempotency_key_replays_and_stores_one_vote(
    app, client, resident, cleveland
):
    body = {"option": "quite_confident", "area": MIDDLEHAVEN}
    first = vote(client, resident, body, key="vote-1")
    again = vote(client, resident, body, key="vote-1")

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert len(stored_votes(app)) == 1


def test_the_same_body_without_a_key_is_a_new_vote_that_replaces_the_first(
    app, client, resident, cleveland
):
    body = {"option": "quite_confident", "area": MIDDLEHAVEN}
    vote(client, resident, body)
    again = vote(client, resident, body)

    assert again.get_json()["replaced"] is True
    assert len(stored_votes(app)) == 2 and len(counted(app)) == 1


# --- refused votes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        ({"option": "fairly_confident", "area": MIDDLEHAVEN}, "option"),
        ({"option": 4, "area": MIDDLEHAVEN}, "option"),
        ({"area": MIDDLEHAVEN}, "option"),
        ({"option": "neither", "area": "E05999999"}, "area"),
        ({"option": "neither", "area": "Middlehaven"}, "area"),
        ({"option": "neither"}, "area"),
        ({"option": "neither", "area": MIDDLEHAVEN, "location": IN_MIDDLEHAVEN}, "location"),
        ({"option": "neither", "location": {"lat": 54.5}}, "location.lon"),
        ({"option": "neither", "area": MIDDLEHAVEN, "counted": False}, "counted"),
        ({"option": "neither", "area": MIDDLEHAVEN, "device_id": str(uuid.uuid4())}, "device_id"),
    ],
)
def test_bad_vote_is_422_naming_the_field_and_stores_nothing(
    app, client, resident, cleveland, body, field
):
    response = vote(client, resident, body)

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    assert field in response.get_json()["errors"]
    assert stored_votes(app) == []


def test_vote_from_london_is_refused_as_out_of_area_and_stores_nothing(
    app, client, resident, cleveland
):
    response = vote(client, resident, {"option": "neither", "location": IN_LONDON})

    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"].endswith("/out-of-area")
    assert "location" in problem["errors"]
    assert "101" in problem["detail"] and "101" in problem["advice"]
    assert stored_votes(app) == []


def test_a_refused_vote_can_be_corrected_and_retried_with_the_same_key(
    app, client, resident, cleveland
):
    bad = vote(client, resident, {"option": "neither", "area": "E05999999"}, key="k")
    good = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}, key="k")

    assert bad.status_code == 422
    assert good.status_code == 201
    assert len(stored_votes(app)) == 1


def test_a_bad_vote_does_not_uncount_the_resident_s_earlier_vote(app, client, resident, cleveland):
    vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN})
    vote(client, resident, {"option": "no_such_option", "area": MIDDLEHAVEN})

    assert [v.option for v in counted(app)] == ["neither"]


def test_a_vote_that_keeps_clashing_is_409_after_a_bounded_number_of_attempts(
    app, client, resident, cleveland, monkeypatch
):
    attempts = []

    def always_clashes(*args, **kwargs):
        attempts.append(1)
        raise IntegrityError(
            "INSERT INTO vote ...",
            {},
            sqlite3.IntegrityError(
                "UNIQUE constraint failed: vote.device_id, vote.fiscal_year, vote.fiscal_quarter"
            ),
        )

    monkeypatch.setattr(service, "_cast_once", always_clashes)

    response = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN})

    assert response.status_code == 409
    assert response.mimetype == PROBLEM_JSON
    assert "Retry-After" in response.headers
    assert len(attempts) == service.MAX_ATTEMPTS
    assert stored_votes(app) == []


@pytest.mark.parametrize("role", ["reviewer", "analyst", "admin", "partner"])
def test_only_residents_can_vote(app, client, cleveland, role):
    token = signed_in(app, client, role)["access_token"]

    response = vote(client, bearer(token), {"option": "neither", "area": MIDDLEHAVEN})

    assert response.status_code == 403
    assert stored_votes(app) == []


def test_voting_needs_a_token(client, cleveland):
    response = client.post(URL, json={"option": "neither", "area": MIDDLEHAVEN})

    assert response.status_code == 401


# --- reading one's own votes --------------------------------------------------------------


def test_resident_lists_own_votes_newest_first(client, resident, other_resident, cleveland, clock):
    clock(datetime(2025, 7, 1, 9, 0, tzinfo=UTC))
    vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN})
    clock(datetime(2025, 8, 1, 9, 0, tzinfo=UTC))
    vote(client, resident, {"option": "quite_confident", "area": MIDDLEHAVEN})
    clock(datetime(2025, 9, 1, 9, 0, tzinfo=UTC))
    vote(client, resident, {"option": "very_confident", "area": HARTLEPOOL})
    vote(client, other_resident, {"option": "not_at_all_confident", "area": MIDDLEHAVEN})

    page = client.get(URL, headers=resident).get_json()

    assert page["total"] == 3 and page["page"] == 1
    # One counted vote a quarter, whatever the area: the Hartlepool vote replaced the second.
    assert [(v["option"], v["counted"], v["replaced"]) for v in page["items"]] == [
        ("very_confident", True, True),
        ("quite_confident", False, True),
        ("neither", False, False),
    ]


def test_vote_list_is_paginated(client, resident, cleveland, clock):
    for month in (7, 8, 9):
        clock(datetime(2025, month, 1, 9, 0, tzinfo=UTC))
        vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN})

    second = client.get(URL, query_string={"page": 2, "page_size": 2}, headers=resident)

    assert second.status_code == 200
    body = second.get_json()
    assert body["total"] == 3 and body["page_size"] == 2
    assert [v["cast_at"] for v in body["items"]] == ["2025-07-01T09:00:00+00:00"]


@pytest.mark.parametrize(
    "query", [{"page": 0}, {"page_size": 101}, {"page": 10_001}, {"sort": "oldest"}]
)
def test_bad_page_query_is_422(client, resident, query):
    response = client.get(URL, query_string=query, headers=resident)

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == set(query)


def test_resident_reads_own_vote(client, resident, cleveland):
    cast = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).get_json()

    response = client.get(f"{URL}/{cast['id']}", headers=resident)

    assert response.status_code == 200
    assert response.get_json() == cast


def test_resident_cannot_see_another_resident_s_vote(client, resident, other_resident, cleveland):
    cast = vote(client, resident, {"option": "neither", "area": MIDDLEHAVEN}).get_json()

    response = client.get(f"{URL}/{cast['id']}", headers=other_resident)
    listed = client.get(URL, headers=other_resident).get_json()

    assert response.status_code == 404
    assert response.get_json()["status"] == 404
    assert listed["total"] == 0 and listed["items"] == []


def test_unknown_vote_is_404(client, resident):
    assert client.get(f"{URL}/{uuid.uuid4()}", headers=resident).status_code == 404
