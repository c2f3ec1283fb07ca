"""Checking a submission's category and its answers to the category's extra questions."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from copa import import_models
from copa.catalog.models import Category
from copa.catalog.service import (
    InvalidAnswers,
    UnknownCategory,
    category_for_report,
    ensure_seed_categories,
    validate_answers,
)
from copa.db import db


@pytest.fixture
def seeded(app):
    """The seed categories, inside an app context for the test's service calls."""
    with app.app_context():
        ensure_seed_categories()
        yield


def seed(code: str) -> Category:
    return category_for_report(code)


def question(code, datatype, *, required=False, order=1, keys=None):  # noqa: ANN001
    q = {"code": code, "datatype": datatype, "required": required, "description": code}
    q["order"] = order
    if keys is not None:
        q["values"] = [{"key": key, "name": key.title()} for key in keys]
    return q


# Building a Category at import configures every mapper: all models must be known first (the
# app factory imports them, but no app exists yet when this module is collected on its own).
import_models()

# One question of each Open311 datatype, none required (requiredness is tested on its own).
EVERY_DATATYPE = Category(
    code="survey",
    name="Survey",
    attributes=[
        question("colour", "string", order=1),
        question("story", "text", order=2),
        question("count", "number", order=3),
        question("seen_at", "datetime", order=4),
        question("size", "singlevaluelist", order=5, keys=["small", "large"]),
        question("kinds", "multivaluelist", order=6, keys=["glass", "paper", "metal"]),
    ],
)


def refusal(answers: dict, category: Category = EVERY_DATATYPE) -> dict[str, list[str]]:
    """The errors of the InvalidAnswers problem ``answers`` must raise."""
    with pytest.raises(InvalidAnswers) as raised:
        validate_answers(category, answers)
    problem = raised.value
    assert problem.status == 422
    assert problem.type.endswith("/invalid-answers")
    return problem.errors


# --- category_for_report ----------------------------------------------------------------------


def test_category_for_report_finds_an_active_category(seeded):
    category = category_for_report("fly_tipping")

    assert category.code == "fly_tipping"
    assert category.default_destination == "council"


@pytest.mark.parametrize("code", ["no_such_thing", "", "FLY_TIPPING", "x" * 65, "asb\x00"])
def test_category_for_report_refuses_an_unknown_code_as_a_field_problem(seeded, code):
    with pytest.raises(UnknownCategory) as raised:
        category_for_report(code)

    problem = raised.value
    assert problem.status == 422
    assert problem.type.endswith("/unknown-category")
    assert problem.errors == {"category": ["Unknown category."]}


def test_category_for_report_refuses_a_category_no_longer_offered(seeded):
    graffiti = db.session.scalar(sa.select(Category).where(Category.code == "graffiti"))
    graffiti.active = False
    db.session.commit()

    with pytest.raises(UnknownCategory):
        category_for_report("graffiti")


def test_unknown_category_problem_reads_as_problem_json(app, seeded):
    with app.test_request_context("/v1/reports"):
        response = UnknownCategory().to_response()

    body = response.get_json()
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert body["errors"] == {"category": ["Unknown category."]}
    assert body["type"].endswith("/unknown-category")


# --- the seed categories' questions -----------------------------------------------------------


def test_fly_tipping_accepts_a_size_from_its_list(seeded):
    assert validate_answers(seed("fly_tipping"), {"size": "large"}) == {"size": "large"}


def test_fly_tipping_without_a_size_is_refused_because_size_is_required(seeded):
    assert refusal({}, seed("fly_tipping")) == {"answers.size": ["An answer is required."]}


def test_fly_tipping_size_outside_its_list_names_the_allowed_values(seeded):
    errors = refusal({"size": "medium"}, seed("fly_tipping"))

    assert errors == {"answers.size": ["Must be one of: small, large."]}


def test_fly_tipping_accepts_several_kinds_of_waste(seeded):
    answers = {"size": "small", "waste_type": ["garden", "tyres"]}

    assert validate_answers(seed("fly_tipping"), answers) == answers


def test_housing_asb_requires_the_landlord(seeded):
    assert refusal({}, seed("housing_asb")) == {"answers.landlord": ["An answer is required."]}
    assert validate_answers(seed("housing_asb"), {"landlord": "thirteen"}) == {
        "landlord": "thirteen"
    }


def test_category_without_questions_accepts_no_answers(seeded):
    assert validate_answers(seed("asb"), {}) == {}


def test_category_without_questions_refuses_any_answer(seeded):
    errors = refusal({"size": "small"}, seed("asb"))

    assert errors == {"answers.size": ["Unknown question for this category."]}


def test_abandoned_vehicle_accepts_days_as_a_number_and_registration_as_text(seeded):
    answers = {"registration": "AB12 CDE", "days_seen": 14}

    assert validate_answers(seed("abandoned_vehicle"), answers) == answers


# --- every datatype ---------------------------------------------------------------------------


def test_every_datatype_accepts_a_right_answer():
    answers = {
        "colour": "red",
        "story": "It has been there since Tuesday.\nIt smells.",
        "count": 3,
        "seen_at": "2026-05-01T21:30:00+00:00",
        "size": "small",
        "kinds": ["glass", "metal"],
    }

    assert validate_answers(EVERY_DATATYPE, answers) == answers


def test_only_answered_questions_are_returned():
    assert validate_answers(EVERY_DATATYPE, {"count": 2}) == {"count": 2}


def test_no_answers_to_optional_questions_is_fine():
    assert validate_answers(EVERY_DATATYPE, {}) == {}


@pytest.mark.parametrize(
    "code,wrong",
    [
        ("colour", 5),
        ("colour", ["red"]),
        ("story", {"text": "x"}),
        ("count", "5"),
        ("count", [5]),
        ("seen_at", 1767225600),
        ("size", 1),
        ("size", ["small"]),
        ("kinds", "glass"),
        ("kinds", {"glass": True}),
    ],
)
def test_an_answer_of_the_wrong_type_is_refused(code, wrong):
    errors = refusal({code: wrong})

    assert list(errors) == [f"answers.{code}"]
    assert len(errors[f"answers.{code}"]) == 1


# string and text


def test_string_is_trimmed():
    assert validate_answers(EVERY_DATATYPE, {"colour": "  red \n"}) == {"colour": "red"}


def test_string_of_200_characters_is_accepted_and_201_refused():
    assert validate_answers(EVERY_DATATYPE, {"colour": "x" * 200}) == {"colour": "x" * 200}
    assert refusal({"colour": "x" * 201}) == {"answers.colour": ["Must be at most 200 characters."]}


def test_text_of_4000_characters_is_accepted_and_4001_refused():
    assert validate_answers(EVERY_DATATYPE, {"story": "y" * 4000}) == {"story": "y" * 4000}
    assert refusal({"story": "y" * 4001}) == {"answers.story": ["Must be at most 4000 characters."]}


@pytest.mark.parametrize("code", ["colour", "story", "size", "seen_at", "count"])
@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_refused_as_in_any_resident_text(code, control):
    errors = refusal({code: f"red{control}"})

    assert errors == {f"answers.{code}": ["Must not contain control characters."]}


def test_tab_and_newlines_are_allowed_in_text():
    story = "First line\r\nSecond\tline"

    assert validate_answers(EVERY_DATATYPE, {"story": story}) == {"story": story}


@pytest.mark.parametrize("blank", [None, "", "   ", "\n"])
def test_null_or_blank_counts_as_not_answered(blank):
    assert validate_answers(EVERY_DATATYPE, {"colour": blank, "count": blank}) == {}


def test_blank_answer_to_a_required_question_is_still_missing():
    required = Category(code="r", attributes=[question("colour", "string", required=True)])

    assert refusal({"colour": "  "}, required) == {"answers.colour": ["An answer is required."]}


# number


@pytest.mark.parametrize("number", [0, -3, 14, 2.5, -0.25, 1e10, 2**53 - 1])
def test_number_accepts_integers_and_decimals(number):
    assert validate_answers(EVERY_DATATYPE, {"count": number}) == {"count": number}


@pytest.mark.parametrize("boolean", [True, False])
def test_number_refuses_a_boolean(boolean):
    assert refusal({"count": boolean}) == {"answers.count": ["Must be a number."]}


@pytest.mark.parametrize("not_finite", [math.nan, math.inf, -math.inf])
def test_number_refuses_nan_and_infinity(not_finite):
    assert refusal({"count": not_finite}) == {"answers.count": ["Must be a finite number."]}


def test_number_refuses_an_integer_json_readers_cannot_hold():
    errors = refusal({"count": 10**400})

    assert list(errors) == ["answers.count"]


# datetime


@pytest.mark.parametrize(
    "given,stored",
    [
        ("2026-05-01T21:30:00+01:00", "2026-05-01T20:30:00+00:00"),
        ("2026-05-01T21:30:00Z", "2026-05-01T21:30:00+00:00"),
        ("2026-05-01T21:30:00.250-05:00", "2026-05-02T02:30:00.250000+00:00"),
        ("2026-05-01 21:30+00:00", "2026-05-01T21:30:00+00:00"),
    ],
)
def test_datetime_with_an_offset_is_stored_in_utc(given, stored):
    assert validate_answers(EVERY_DATATYPE, {"seen_at": given}) == {"seen_at": stored}


@pytest.mark.parametrize(
    "wrong",
    [
        "2026-05-01T21:30:00",  # no offset: which 21:30?
        "2026-05-01",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
        "2026-05-01T21:30:00.000000000" + "0" * 100 + "+00:00",
    ],
)
def test_datetime_without_an_offset_or_unparseable_is_refused(wrong):
    errors = refusal({"seen_at": wrong})

    assert list(errors) == ["answers.seen_at"]
    assert "ISO 8601" in errors["answers.seen_at"][0]


# singlevaluelist


def test_single_choice_must_be_one_of_the_value_keys_not_their_names():
    assert refusal({"size": "Small"}) == {"answers.size": ["Must be one of: small, large."]}


# multivaluelist


def test_multiple_choice_keeps_the_order_given():
    answers = {"kinds": ["metal", "glass"]}

    assert validate_answers(EVERY_DATATYPE, answers) == answers


def test_multiple_choice_refuses_an_empty_list():
    errors = refusal({"kinds": []})

    assert errors == {
        "answers.kinds": ["Must be a non-empty list of values from: glass, paper, metal."]
    }


def test_multiple_choice_refuses_a_value_outside_the_list():
    errors = refusal({"kinds": ["glass", "wood"]})

    assert errors == {"answers.kinds": ["Each value must be one of: glass, paper, metal."]}


def test_multiple_choice_refuses_a_repeated_value():
    errors = refusal({"kinds": ["glass", "glass"]})

    assert errors == {"answers.kinds": ["Must not list glass more than once."]}


def test_multiple_choice_refuses_a_non_string_item():
    assert list(refusal({"kinds": ["glass", 3]})) == ["answers.kinds"]


# --- required, unknown, several problems at once ----------------------------------------------


@pytest.mark.parametrize(
    "datatype,keys",
    [
        ("string", None),
        ("text", None),
        ("number", None),
        ("datetime", None),
        ("singlevaluelist", ["a", "b"]),
        ("multivaluelist", ["a", "b"]),
    ],
)
def test_a_required_question_of_any_datatype_must_be_answered(datatype, keys):
    category = Category(code="r", attributes=[question("q", datatype, required=True, keys=keys)])

    assert refusal({}, category) == {"answers.q": ["An answer is required."]}
    assert refusal({"q": None}, category) == {"answers.q": ["An answer is required."]}


def test_answer_to_a_question_the_category_does_not_ask_is_refused():
    errors = refusal({"colour": "red", "favourite_food": "chips"})

    assert errors == {"answers.favourite_food": ["Unknown question for this category."]}


def test_every_problem_is_reported_at_once_keyed_by_question():
    category = Category(
        code="r",
        attributes=[
            question("size", "singlevaluelist", required=True, keys=["small", "large"]),
            question("count", "number", order=2),
            question("note", "string", required=True, order=3),
        ],
    )

    errors = refusal({"count": True, "extra": 1}, category)

    assert errors == {
        "answers.size": ["An answer is required."],
        "answers.count": ["Must be a number."],
        "answers.note": ["An answer is required."],
        "answers.extra": ["Unknown question for this category."],
    }


def test_a_wrong_answer_to_a_required_question_says_what_is_wrong_not_that_it_is_missing():
    category = Category(
        code="r",
        attributes=[question("size", "singlevaluelist", required=True, keys=["small", "large"])],
    )

    assert refusal({"size": "huge"}, category) == {
        "answers.size": ["Must be one of: small, large."]
    }


def test_answers_that_are_not_an_object_are_refused():
    assert refusal(["small"]) == {"answers": ["Must be an object keyed by question code."]}  # type: ignore[arg-type]


def test_invalid_answers_problem_names_the_offending_questions(app):
    with pytest.raises(InvalidAnswers) as raised:
        validate_answers(EVERY_DATATYPE, {"size": "huge", "count": "many"})

    with app.test_request_context("/v1/reports"):
        body = raised.value.to_response().get_json()
    assert body["status"] == 422
    assert "answers.count" in body["detail"]
    assert "answers.size" in body["detail"]
    assert body["errors"]["answers.size"] == ["Must be one of: small, large."]
