"""The public category list: what a resident's app shows, and how cheaply it can keep it fresh."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from copa.catalog.models import Category
from copa.catalog.seed import SEED_CATEGORIES
from copa.catalog.service import ensure_seed_categories
from copa.db import db

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def seeded(app):
    """The seed categories of DOMAIN.md, for this test only."""
    with app.app_context():
        ensure_seed_categories()


def set_category(app, code: str, **changes) -> None:
    with app.app_context():
        category = db.session.scalar(sa.select(Category).where(Category.code == code))
        for name, value in changes.items():
            setattr(category, name, value)
        db.session.commit()


def by_code(body: list[dict]) -> dict[str, dict]:
    return {category["code"]: category for category in body}


# --- the list ---------------------------------------------------------------------------------


def test_list_shows_every_seed_category_in_display_order(client, seeded):
    response = client.get("/v1/categories")

    assert response.status_code == 200
    assert [c["code"] for c in response.get_json()] == [s["code"] for s in SEED_CATEGORIES]


def test_list_entry_carries_what_an_app_needs_to_show_and_route_it(client, seeded):
    asb = by_code(client.get("/v1/categories").get_json())["asb"]

    assert asb == {
        "code": "asb",
        "name": "Antisocial behaviour",
        "description": "Behaviour causing harassment, alarm or distress in your area.",
        "group": "policing",
        "keywords": ["asb", "nuisance", "youths", "harassment"],
        "location_required": True,
        "default_destination": "force_control_room",
        "questions": [],
    }


def test_question_for_the_commissioner_needs_no_location(client, seeded):
    question = by_code(client.get("/v1/categories").get_json())["question"]

    assert question["location_required"] is False
    assert question["group"] == "opcc"
    assert question["default_destination"] == "opcc"


def test_fly_tipping_asks_for_size_small_or_large_as_a_required_single_choice(client, seeded):
    fly_tipping = by_code(client.get("/v1/categories").get_json())["fly_tipping"]

    size, waste_type = fly_tipping["questions"]
    assert size == {
        "code": "size",
        "datatype": "singlevaluelist",
        "required": True,
        "description": "How much waste is there?",
        "order": 1,
        "values": [
            {"key": "small", "name": "Small (up to a car boot load)"},
            {"key": "large", "name": "Large (a lorry load or more)"},
        ],
    }
    assert waste_type["code"] == "waste_type"
    assert waste_type["datatype"] == "multivaluelist"
    assert waste_type["required"] is False
    assert waste_type["order"] == 2


def test_free_text_and_number_questions_carry_no_values(client, seeded):
    abandoned = by_code(client.get("/v1/categories").get_json())["abandoned_vehicle"]

    assert abandoned["questions"] == [
        {
            "code": "registration",
            "datatype": "string",
            "required": False,
            "description": "Registration number",
            "order": 1,
        },
        {
            "code": "days_seen",
            "datatype": "number",
            "required": False,
            "description": "For about how many days has it been there?",
            "order": 2,
        },
    ]


def test_questions_are_listed_by_their_order_whatever_order_they_were_stored_in(
    app, client, seeded
):
    with app.app_context():
        attributes = db.session.scalar(
            sa.select(Category.attributes).where(Category.code == "fly_tipping")
        )
    set_category(app, "fly_tipping", attributes=list(reversed(attributes)))

    fly_tipping = client.get("/v1/categories/fly_tipping").get_json()

    assert [q["code"] for q in fly_tipping["questions"]] == ["size", "waste_type"]


def test_questions_leave_out_internal_attribute_fields(client, seeded):
    fly_tipping = client.get("/v1/categories/fly_tipping").get_json()

    for question in fly_tipping["questions"]:
        assert set(question) <= {"code", "datatype", "required", "description", "order", "values"}


def test_inactive_category_is_hidden_from_the_list(app, client, seeded):
    set_category(app, "graffiti", active=False)

    codes = [c["code"] for c in client.get("/v1/categories").get_json()]

    assert "graffiti" not in codes
    assert "dog_fouling" in codes


def test_list_follows_the_sort_order_set_by_admins(app, client, seeded):
    set_category(app, "welfare_concern", sort_order=-1)

    codes = [c["code"] for c in client.get("/v1/categories").get_json()]

    assert codes[0] == "welfare_concern"


def test_list_is_empty_before_any_category_exists(client):
    response = client.get("/v1/categories")

    assert response.status_code == 200
    assert response.get_json() == []


def test_list_needs_no_token(client, seeded):
    response = client.get("/v1/categories")

    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


def test_list_is_read_in_one_query_however_many_categories_there_are(app, client, seeded):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        response = client.get("/v1/categories")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert len(response.get_json()) == len(SEED_CATEGORIES)
    assert len([s for s in statements if "category" in s.lower()]) == 1


# --- one category -----------------------------------------------------------------------------


def test_one_category_by_code_is_the_same_as_in_the_list(client, seeded):
    listed = by_code(client.get("/v1/categories").get_json())["housing_asb"]

    response = client.get("/v1/categories/housing_asb")

    assert response.status_code == 200
    assert response.get_json() == listed


def test_unknown_category_is_a_404_problem(client, seeded):
    response = client.get("/v1/categories/no_such_thing")

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == 404
    assert problem["type"].endswith("/category-not-found")


def test_inactive_category_is_a_404_as_if_it_never_existed(app, client, seeded):
    set_category(app, "graffiti", active=False)

    response = client.get("/v1/categories/graffiti")

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON


@pytest.mark.parametrize(
    "code",
    ["x" * 65, "%C3%A9", "'; DROP TABLE category; --"],
    ids=["too-long", "non-ascii", "sql"],
)
def test_a_code_no_category_can_have_is_a_404_problem_not_an_error(client, seeded, code):
    response = client.get(f"/v1/categories/{code}")

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON


@pytest.mark.parametrize("code", ["asb%00", "asb%0A"], ids=["nul-byte", "newline"])
def test_a_control_character_in_the_path_is_refused_before_any_lookup(client, seeded, code):
    response = client.get(f"/v1/categories/{code}")

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["type"].endswith("/invalid-characters")


# --- caching ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/categories", "/v1/categories/fly_tipping"])
def test_answer_may_be_cached_publicly_for_five_minutes(client, seeded, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.cache_control.public is True
    assert response.cache_control.max_age == 300


@pytest.mark.parametrize("path", ["/v1/categories", "/v1/categories/fly_tipping"])
def test_answer_carries_a_strong_etag_that_is_stable_between_requests(client, seeded, path):
    first = client.get(path)
    again = client.get(path)

    etag, weak = first.get_etag()
    assert etag
    assert weak is False
    assert again.get_etag() == (etag, False)


@pytest.mark.parametrize("path", ["/v1/categories", "/v1/categories/fly_tipping"])
def test_revalidation_with_a_current_etag_is_an_empty_304(client, seeded, path):
    first = client.get(path)

    response = client.get(path, headers={"If-None-Match": first.headers["ETag"]})

    assert response.status_code == 304
    assert response.data == b""
    # RFC 9110 15.4.5: a 304 repeats the validator and the caching rules of the 200.
    assert response.headers["ETag"] == first.headers["ETag"]
    assert response.cache_control.max_age == 300


def test_revalidation_accepts_the_weak_form_of_the_etag(client, seeded):
    etag, _ = client.get("/v1/categories").get_etag()

    response = client.get("/v1/categories", headers={"If-None-Match": f'W/"{etag}"'})

    assert response.status_code == 304


def test_revalidation_with_one_of_several_etags_is_a_304(client, seeded):
    current = client.get("/v1/categories").headers["ETag"]

    response = client.get("/v1/categories", headers={"If-None-Match": f'"stale", {current}'})

    assert response.status_code == 304


def test_revalidation_with_an_unknown_etag_gets_the_full_list(client, seeded):
    response = client.get("/v1/categories", headers={"If-None-Match": '"not-the-current-one"'})

    assert response.status_code == 200
    assert len(response.get_json()) == len(SEED_CATEGORIES)


@pytest.mark.parametrize("garbage", ["", "no quotes", 'W/"', ",,,", "*" * 300])
def test_a_malformed_if_none_match_is_ignored_or_matches_everything(client, seeded, garbage):
    response = client.get("/v1/categories", headers={"If-None-Match": garbage})

    assert response.status_code in {200, 304}


def test_etag_of_one_category_differs_from_another(client, seeded):
    noise = client.get("/v1/categories/noise").headers["ETag"]
    graffiti = client.get("/v1/categories/graffiti").headers["ETag"]

    assert noise != graffiti


def test_changing_a_category_changes_the_etag_so_apps_see_the_change(app, client, seeded):
    before = client.get("/v1/categories")
    set_category(app, "noise", name="Noise from neighbours")

    response = client.get("/v1/categories", headers={"If-None-Match": before.headers["ETag"]})

    assert response.status_code == 200
    assert response.headers["ETag"] != before.headers["ETag"]
    assert by_code(response.get_json())["noise"]["name"] == "Noise from neighbours"


def test_hiding_a_category_changes_the_etag_of_the_list(app, client, seeded):
    before = client.get("/v1/categories").headers["ETag"]
    set_category(app, "dog_fouling", active=False)

    response = client.get("/v1/categories", headers={"If-None-Match": before})

    assert response.status_code == 200


def test_unknown_category_404_is_not_marked_cacheable(client, seeded):
    response = client.get("/v1/categories/no_such_thing")

    assert response.status_code == 404
    assert "ETag" not in response.headers
    assert response.cache_control.max_age is None


def test_head_carries_the_same_etag_without_a_body(client, seeded):
    get = client.get("/v1/categories")

    head = client.head("/v1/categories")

    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
