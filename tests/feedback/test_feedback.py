"""Resident feedback: compliments, suggestions, and dissatisfaction logged as a complaint."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from copa.areas.service import import_bundled
from copa.contacts.models import Contact
from copa.db import db
from copa.emergency import EMERGENCY_ADVICE
from copa.feedback.models import ComplaintCase, Feedback
from copa.periods import today_london
from tests.factories import bearer, register_device, signed_in

URL = "/v1/feedback"
PROBLEM_JSON = "application/problem+json"
MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}  # Middlehaven ward
LONDON = {"lat": 51.5074, "lon": -0.1278}


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


def give(client, headers, body, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(URL, json=body, headers={**headers, **extra})


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def stored(app) -> tuple[int, int, int]:
    """(feedback, complaint cases, contacts) rows in the database."""
    return count(app, Feedback), count(app, ComplaintCase), count(app, Contact)


def stored_feedback(app, feedback_id: str) -> Feedback:
    with app.app_context():
        return db.session.get(Feedback, uuid.UUID(feedback_id))


# --- giving feedback --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["compliment", "suggestion", "dissatisfaction"])
def test_resident_gives_each_kind_of_feedback_and_gets_it_back(app, client, resident, kind):
    response = give(client, resident, {"kind": kind, "text": "  The officer was helpful.  "})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["kind"] == kind
    assert body["text"] == "The officer was helpful."
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    assert body["area"] is None and body["contact"] is None and body["incident_date"] is None
    assert body["emergency_advice"] is None
    assert stored(app)[0] == 1


def test_dissatisfaction_opens_exactly_one_complaint_case_in_logged(app, client, resident):
    response = give(client, resident, {"kind": "dissatisfaction", "text": "Nobody came."})

    body = response.get_json()
    assert body["complaint"]["state"] == "logged"
    assert body["complaint"]["logged_at"] == body["created_at"]
    with app.app_context():
        cases = db.session.scalars(sa.select(ComplaintCase)).all()
        assert [(str(c.feedback_id), c.state) for c in cases] == [(body["id"], "logged")]


@pytest.mark.parametrize("kind", ["compliment", "suggestion"])
def test_compliment_and_suggestion_open_no_complaint_case(app, client, resident, kind):
    body = give(client, resident, {"kind": kind, "text": "More patrols at night."}).get_json()

    assert body["complaint"] is None
    assert count(app, ComplaintCase) == 0


def test_feedback_with_a_location_is_attributed_to_ward_and_authority_without_coordinates(
    app, client, resident, cleveland
):
    response = give(
        client, resident, {"kind": "compliment", "text": "Thanks", "location": MIDDLESBROUGH}
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["area"] == {
        "ward": {"code": "E05001497", "name": "Middlehaven"},
        "local_authority": {"code": "E06000002", "name": "Middlesbrough"},
    }
    assert "54.5762" not in response.get_data(as_text=True)
    assert "location" not in body
    feedback = stored_feedback(app, body["id"])
    assert (feedback.ward_code, feedback.local_authority_code) == ("E05001497", "E06000002")


def test_feedback_about_a_local_authority_names_it_and_no_ward(client, resident, cleveland):
    body = give(client, resident, {"kind": "suggestion", "text": "Idea", "area": "E06000001"})

    assert body.get_json()["area"] == {
        "ward": None,
        "local_authority": {"code": "E06000001", "name": "Hartlepool"},
    }


def test_feedback_about_a_ward_also_names_its_local_authority(client, resident, cleveland):
    body = give(client, resident, {"kind": "suggestion", "text": "Idea", "area": "E05001497"})

    assert body.get_json()["area"] == {
        "ward": {"code": "E05001497", "name": "Middlehaven"},
        "local_authority": {"code": "E06000002", "name": "Middlesbrough"},
    }


def test_every_optional_detail_is_kept_and_shown_to_the_resident(app, client, resident):
    day = today_london() - timedelta(days=3)
    response = give(
        client,
        resident,
        {
            "kind": "compliment",
            "text": "PC 1234 went out of their way.",
            "incident_date": day.isoformat(),
            "officer_identifier": " 1234 ",
            "contact": {"name": "Sam", "email": "sam@example.org", "phone": "01642 123456"},
        },
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["incident_date"] == day.isoformat()
    assert body["officer_identifier"] == "1234"
    assert body["contact"] == {
        "name": "Sam",
        "email": "sam@example.org",
        "phone": "+441642123456",  # E.164
        "notify_by_email": False,  # not asked for
    }
    assert stored(app) == (1, 0, 1)


def test_today_is_a_valid_incident_date(client, resident):
    response = give(
        client,
        resident,
        {"kind": "compliment", "text": "Quick help", "incident_date": today_london().isoformat()},
    )
    assert response.status_code == 201, response.get_json()


def test_emergency_wording_is_stored_and_answered_with_999_advice(app, client, resident):
    response = give(client, resident, {"kind": "dissatisfaction", "text": "He has a knife outside"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["emergency_advice"] == EMERGENCY_ADVICE
    assert "999" in body["emergency_advice"]
    assert stored_feedback(app, body["id"]).possible_emergency is True
    # The advice stays with it when the resident reads it back.
    again = client.get(f"{URL}/{body['id']}", headers=resident).get_json()
    assert again["emergency_advice"] == EMERGENCY_ADVICE


def test_ordinary_wording_is_not_flagged_as_an_emergency(app, client, resident):
    body = give(client, resident, {"kind": "compliment", "text": "Lovely officers"}).get_json()

    assert body["emergency_advice"] is None
    assert stored_feedback(app, body["id"]).possible_emergency is False


def test_references_are_distinct_and_in_the_copa_format(client, resident):
    references = [
        give(client, resident, {"kind": kind, "text": "x"}).get_json()["reference"]
        for kind in ("compliment", "suggestion", "dissatisfaction", "compliment")
    ]

    assert len(set(references)) == 4
    assert all(re.fullmatch(r"COPA-\d{2}-\d{6}", ref) for ref in references)


def test_no_ip_address_is_stored_with_feedback(app, client, resident):
    body = give(client, resident, {"kind": "compliment", "text": "Thanks"}).get_json()

    with app.app_context():
        row = db.session.execute(
            sa.select(Feedback.__table__).where(Feedback.id == uuid.UUID(body["id"]))
        ).one()
    assert "127.0.0.1" not in " ".join(str(value) for value in row)
    assert not [c for c in Feedback.__table__.columns if "ip" in c.name.split("_")]


# --- idempotency --------------------------------------------------------------------------------


def test_retried_dissatisfaction_creates_one_feedback_and_one_case(app, client, resident):
    body = {"kind": "dissatisfaction", "text": "Rude on the phone."}
    first = give(client, resident, body, key="fb-1")
    again = give(client, resident, body, key="fb-1")

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stored(app)[:2] == (1, 1)


# --- invalid input: a problem naming the field, and nothing stored -------------------------------


def future() -> str:
    return (today_london() + timedelta(days=1)).isoformat()


INVALID = [
    pytest.param({"kind": "compliment", "text": "x", "rating": 5}, "rating", id="unknown-field"),
    pytest.param({"kind": "compliment", "text": 42}, "text", id="text-not-a-string"),
    pytest.param({"kind": "compliment"}, "text", id="text-missing"),
    pytest.param({"kind": "compliment", "text": ""}, "text", id="text-empty"),
    pytest.param({"kind": "compliment", "text": "   "}, "text", id="text-only-spaces"),
    pytest.param({"kind": "compliment", "text": "x" * 4001}, "text", id="text-overlong"),
    pytest.param({"kind": "compliment", "text": "bad\x00text"}, "text", id="text-nul"),
    pytest.param({"kind": "compliment", "text": "bell\x07"}, "text", id="text-control-char"),
    pytest.param({"kind": "complaint", "text": "x"}, "kind", id="unknown-kind"),
    pytest.param({"kind": ["compliment"], "text": "x"}, "kind", id="kind-not-a-string"),
    pytest.param({"text": "x"}, "kind", id="kind-missing"),
    pytest.param(
        {"kind": "compliment", "text": "x", "incident_date": future()},
        "incident_date",
        id="incident-date-in-future",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "incident_date": "1999-12-31"},
        "incident_date",
        id="incident-date-before-2000",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "incident_date": "yesterday"},
        "incident_date",
        id="incident-date-not-a-date",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "officer_identifier": "1" * 65},
        "officer_identifier",
        id="officer-identifier-overlong",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "officer_identifier": ""},
        "officer_identifier",
        id="officer-identifier-empty",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "contact": {"email": "not-an-email"}},
        "contact.email",
        id="contact-invalid-email",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "contact": {"phone": "call me maybe"}},
        "contact.phone",
        id="contact-invalid-phone",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "contact": {"phone": "1234567"}},
        "contact.phone",
        id="contact-phone-not-a-number-anywhere",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "contact": {"name": "Sam"}},
        "contact",
        id="contact-without-email-or-phone",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "contact": {"email": "a@b.org", "fax": "1"}},
        "contact.fax",
        id="contact-unknown-field",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "location": LONDON}, "location", id="location-london"
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "location": {"lat": 91, "lon": -1.2}},
        "location.lat",
        id="latitude-out-of-range",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "location": {"lat": 54.5, "lon": 181}},
        "location.lon",
        id="longitude-out-of-range",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "location": {"lat": 54.5}},
        "location.lon",
        id="location-without-longitude",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "location": "Middlesbrough"},
        "location",
        id="location-not-an-object",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "location": MIDDLESBROUGH, "area": "E06000002"},
        "area",
        id="location-and-area",
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "area": "E06000099"}, "area", id="unknown-area-code"
    ),
    pytest.param(
        {"kind": "compliment", "text": "x", "area": "Middlesbrough"}, "area", id="area-not-a-code"
    ),
]


@pytest.mark.parametrize("body,field", INVALID)
def test_invalid_feedback_is_refused_naming_the_field_and_nothing_is_stored(
    app, client, resident, cleveland, body, field
):
    response = give(client, resident, body)

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == 422
    assert any(name == field or name.startswith(field + ".") for name in problem["errors"]), problem
    assert stored(app) == (0, 0, 0)


def test_location_outside_cleveland_is_the_out_of_area_problem_with_101_advice(
    app, client, resident, cleveland
):
    response = give(client, resident, {"kind": "dissatisfaction", "text": "x", "location": LONDON})

    problem = response.get_json()
    assert problem["type"].endswith("/out-of-area")
    assert "101" in problem["advice"]
    assert stored(app) == (0, 0, 0)


def test_a_body_that_is_not_a_json_object_is_refused(app, client, resident):
    response = client.post(URL, json=["compliment"], headers=resident)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert stored(app) == (0, 0, 0)


def test_a_refused_request_gives_no_reference_number_away(client, resident):
    first = give(client, resident, {"kind": "compliment", "text": "x"}).get_json()["reference"]
    give(client, resident, {"kind": "compliment", "text": "x", "area": "E06000099"})
    second = give(client, resident, {"kind": "compliment", "text": "y"}).get_json()["reference"]

    assert int(second[-6:]) == int(first[-6:]) + 1


# --- who may give and read ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "resolution", "admin"])
def test_staff_cannot_give_feedback_as_a_resident(app, client, role):
    token = signed_in(app, client, role)["access_token"]

    response = give(client, bearer(token), {"kind": "compliment", "text": "x"})

    assert response.status_code == 403
    assert response.mimetype == PROBLEM_JSON
    assert stored(app) == (0, 0, 0)


def test_giving_feedback_needs_a_token(app, client):
    response = client.post(URL, json={"kind": "compliment", "text": "x"})

    assert response.status_code == 401
    assert stored(app) == (0, 0, 0)


def test_resident_reads_their_own_feedback(client, resident):
    created = give(client, resident, {"kind": "suggestion", "text": "Bins"}).get_json()

    response = client.get(f"{URL}/{created['id']}", headers=resident)

    assert response.status_code == 200
    assert response.get_json() == created


def test_another_residents_feedback_is_not_found_like_a_missing_one(
    client, resident, other_resident
):
    created = give(client, resident, {"kind": "dissatisfaction", "text": "Mine"}).get_json()

    theirs = client.get(f"{URL}/{created['id']}", headers=other_resident)
    missing = client.get(f"{URL}/{uuid.uuid4()}", headers=other_resident)

    assert theirs.status_code == missing.status_code == 404
    assert theirs.mimetype == PROBLEM_JSON
    assert "Mine" not in theirs.get_data(as_text=True)
    assert theirs.get_json()["detail"] == missing.get_json()["detail"]


def test_list_shows_only_own_feedback_newest_first(client, resident, other_resident):
    mine = [
        give(client, resident, {"kind": "compliment", "text": f"mine {n}"}).get_json()["id"]
        for n in range(3)
    ]
    give(client, other_resident, {"kind": "compliment", "text": "theirs"})

    page = client.get(URL, headers=resident).get_json()

    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == list(reversed(mine))
    assert client.get(URL, headers=other_resident).get_json()["total"] == 1


def test_list_is_paginated(client, resident):
    for n in range(3):
        give(client, resident, {"kind": "suggestion", "text": f"idea {n}"})

    first = client.get(URL, query_string={"page": 1, "page_size": 2}, headers=resident).get_json()
    second = client.get(URL, query_string={"page": 2, "page_size": 2}, headers=resident).get_json()

    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])


def test_a_page_size_above_the_maximum_is_refused(client, resident):
    response = client.get(URL, query_string={"page_size": 1000}, headers=resident)

    assert response.status_code == 422
    assert "page_size" in response.get_json()["errors"]


def test_new_resident_has_an_empty_list(client, resident):
    assert client.get(URL, headers=resident).get_json() == {
        "items": [],
        "page": 1,
        "page_size": 20,
        "total": 0,
    }


@pytest.mark.parametrize("role", ["reviewer", "analyst"])
def test_staff_tokens_cannot_use_the_residents_feedback_list(app, client, role):
    token = signed_in(app, client, role)["access_token"]

    assert client.get(URL, headers=bearer(token)).status_code == 403


def test_an_unknown_query_parameter_on_the_list_is_refused(client, resident):
    response = client.get(URL, query_string={"sort": "oldest"}, headers=resident)

    assert response.status_code == 422
    assert "sort" in response.get_json()["errors"]
