"""Use cases over the category catalogue, and the checking of answers to its extra questions.

Reading is public and cheap (``list_categories`` is one query); ``category_for_report`` and
``validate_answers`` are what the submission services call before they write anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from copa.catalog.models import Category
from copa.catalog.seed import SEED_CATEGORIES
from copa.db import db, write
from copa.refcache import ReferenceCache, attach
from copa.web.problems import NotFound, Unprocessable, problem_type
from copa.web.schemas import no_control_characters

_SEED_FIELDS = (
    "name",
    "description",
    "group",
    "default_destination",
    "keywords",
    "attributes",
    "location_required",
)


def ensure_seed_categories() -> int:
    """Add the seed categories that are missing (existing ones, maybe edited by admins, stay).

    Returns how many were added.
    """
    with write():
        existing = set(db.session.scalars(sa.select(Category.code)))
        added = 0
        for order, seed in enumerate(SEED_CATEGORIES, start=1):
            if seed["code"] in existing:
                continue
            values = {
                "description": "",
                "keywords": [],
                "attributes": [],
                "location_required": True,
                **seed,
            }
            db.session.add(
                Category(sort_order=order, **{k: values[k] for k in ("code", *_SEED_FIELDS)})
            )
            added += 1
    return added


# --- reading the catalogue ----------------------------------------------------------------

_CODE_MAX = 64  # Category.code is String(64)


class CategoryNotFound(NotFound):
    type = problem_type("category-not-found")


class UnknownCategory(Unprocessable):
    """A submission names a category that does not exist or is no longer offered."""

    type = problem_type("unknown-category")
    title = "Unknown category"

    def __init__(
        self,
        detail: str | None = "There is no category with that code; fetch /v1/categories again.",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("errors", {"category": ["Unknown category."]})
        super().__init__(detail, **kwargs)


class InvalidAnswers(Unprocessable):
    """Answers to a category's extra questions that do not fit the questions."""

    type = problem_type("invalid-answers")
    title = "Invalid answers to the category's questions"


def list_categories() -> list[Category]:
    """The categories residents can report under, in display order (one query)."""
    return list(
        db.session.scalars(
            sa.select(Category)
            .where(Category.active.is_(True))
            .order_by(Category.sort_order, Category.code)
        )
    )


def get_category(code: str) -> Category:
    """One active category by code; ``CategoryNotFound`` (404) otherwise."""
    category = _active_category(code)
    if category is None:
        raise CategoryNotFound("There is no category with that code.")
    return category


def category_for_report(code: str) -> Category:
    """The active category a submission names; ``UnknownCategory`` (422) otherwise."""
    category = _active_category(code)
    if category is None:
        raise UnknownCategory()
    return category


def _load_active_categories(session: Session) -> dict[str, Category]:
    statement = sa.select(Category).where(Category.active.is_(True))
    return {category.code: category for category in session.scalars(statement)}


ACTIVE_CATEGORIES = ReferenceCache("active-categories", _load_active_categories, Category)


def _active_category(code: str) -> Category | None:
    # A code no category can have is not even looked up.
    if not isinstance(code, str) or not 0 < len(code) <= _CODE_MAX or _has_control(code):
        return None
    cached = ACTIVE_CATEGORIES.get().get(code)
    return None if cached is None else attach(cached)


def _has_control(value: str) -> bool:
    try:
        no_control_characters(value)
    except ValidationError:
        return True
    return False


def questions_of(category: Category) -> list[dict[str, Any]]:
    """The category's extra questions in the order residents see them."""
    return list(questions_of_list(category.attributes or []))


def asked_copy(category: Category) -> list[dict[str, Any]]:
    """The category's questions as they stand, to keep with a report made now."""
    return [dict(question) for question in questions_of(category)]


def answered_questions(
    asked: list[Mapping[str, Any]], answers: Mapping[str, object]
) -> list[dict[str, Any]]:
    """Answers in question order, each with the question text and the names of the chosen
    values as they were when asked. An answer to no question asked keeps its code as text."""
    shown: list[dict[str, Any]] = []
    seen: set[str] = set()
    for question in questions_of_list(asked):
        code = str(question["code"])
        if code not in answers:
            continue
        seen.add(code)
        shown.append(_answered(question, answers[code]))
    for code, answer in answers.items():
        if code not in seen:
            shown.append(_answered({"code": code}, answer))
    return shown


def questions_of_list(questions: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Stored questions in the order residents see them (dropping anything that is not one)."""
    kept = [q for q in questions or [] if isinstance(q, Mapping) and "code" in q]
    return sorted(kept, key=lambda q: (_order(q), str(q["code"])))


def _answered(question: Mapping[str, Any], answer: object) -> dict[str, Any]:
    datatype = question.get("datatype", "string")
    labels: list[str] = []
    if datatype in ("singlevaluelist", "multivaluelist"):
        names = {
            str(value["key"]): str(value.get("name", value["key"]))
            for value in question.get("values") or []
            if isinstance(value, Mapping) and "key" in value
        }
        chosen = answer if isinstance(answer, list) else [answer]
        labels = [names.get(str(key), str(key)) for key in chosen]
    return {
        "code": str(question["code"]),
        "question": str(question.get("description") or question["code"]),
        "datatype": datatype,
        "answer": answer,
        "labels": labels,
    }


def _order(question: Mapping[str, Any]) -> int:
    order = question.get("order")
    return order if isinstance(order, int) and not isinstance(order, bool) else 0


# --- answers to a category's extra questions ----------------------------------------------

STRING_MAX = 200
TEXT_MAX = 4000
_DATETIME_TEXT_MAX = 64
# Integers beyond 2^53 do not survive a round trip through most JSON readers (RFC 7493).
_SAFE_INTEGER = 2**53 - 1
_DATETIME_EXAMPLE = "2026-05-01T21:30:00+01:00"


class _Refused(ValueError):
    """One answer's problem, in words for the resident."""


def validate_answers(category: Category, answers: Mapping[str, object]) -> dict[str, object]:
    """Check answers against the category's questions (Open311 attribute datatypes).

    Returns the cleaned answers, keyed by question code, for the questions answered (``None``
    and blank strings count as unanswered). Raises ``InvalidAnswers`` with one entry per
    offending question, keyed ``answers.<code>``.
    """
    if not isinstance(answers, Mapping):
        raise InvalidAnswers(
            "Answers must be an object keyed by question code.",
            errors={"answers": ["Must be an object keyed by question code."]},
        )
    questions = {str(q["code"]): q for q in questions_of(category)}
    cleaned: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for code, value in answers.items():
        code = str(code)
        question = questions.get(code)
        if question is None:
            errors[f"answers.{code}"] = ["Unknown question for this category."]
            continue
        try:
            answer = _clean(question, value)
        except _Refused as refused:
            errors[f"answers.{code}"] = [str(refused)]
            continue
        if answer is not None:
            cleaned[code] = answer
    for code, question in questions.items():
        if question.get("required") is True and code not in cleaned:
            errors.setdefault(f"answers.{code}", ["An answer is required."])
    if errors:
        raise InvalidAnswers(
            "Some answers to the category's questions are missing or not valid: "
            + ", ".join(sorted(errors))
            + ".",
            errors=errors,
        )
    return cleaned


def _clean(question: Mapping[str, Any], value: object) -> object:
    """The answer as stored, ``None`` for no answer; raises ``_Refused``."""
    if value is None:
        return None
    datatype = question.get("datatype", "string")
    if datatype == "multivaluelist":
        return _multiple_choice(question, value)
    if isinstance(value, str):
        _no_control_characters(value)
        value = value.strip()
        if not value:
            return None
    if datatype == "text":
        return _text(value, TEXT_MAX)
    if datatype == "number":
        return _number(value)
    if datatype == "datetime":
        return _datetime(value)
    if datatype == "singlevaluelist":
        return _single_choice(question, value)
    return _text(value, STRING_MAX)  # "string", and Open311's default for anything else


def _no_control_characters(value: str) -> None:
    try:
        no_control_characters(value)
    except ValidationError as error:
        raise _Refused("Must not contain control characters.") from error


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise _Refused("Must be text.")
    if len(value) > limit:
        raise _Refused(f"Must be at most {limit} characters.")
    return value


def _number(value: object) -> int | float:
    # bool is an int in Python, but true is not an answer to "how many days?".
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused("Must be a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused("Must be a finite number.")
    if isinstance(value, int) and abs(value) > _SAFE_INTEGER:
        raise _Refused(f"Must be between -{_SAFE_INTEGER} and {_SAFE_INTEGER}.")
    return value


def _datetime(value: object) -> str:
    refusal = f"Must be a date and time in ISO 8601 with a UTC offset, e.g. {_DATETIME_EXAMPLE}."
    if not isinstance(value, str) or len(value) > _DATETIME_TEXT_MAX:
        raise _Refused(refusal)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise _Refused(refusal) from error
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _Refused(refusal)
    try:
        return moment.astimezone(UTC).isoformat()
    except OverflowError as error:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise _Refused(refusal) from error


def _keys(question: Mapping[str, Any]) -> list[str]:
    return [
        str(value["key"])
        for value in question.get("values") or []
        if isinstance(value, Mapping) and "key" in value
    ]


def _single_choice(question: Mapping[str, Any], value: object) -> str:
    keys = _keys(question)
    if not isinstance(value, str) or value not in keys:
        raise _Refused(f"Must be one of: {', '.join(keys)}.")
    return value


def _multiple_choice(question: Mapping[str, Any], value: object) -> list[str]:
    keys = _keys(question)
    if not isinstance(value, list | tuple) or not value:
        raise _Refused(f"Must be a non-empty list of values from: {', '.join(keys)}.")
    chosen: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in keys:
            raise _Refused(f"Each value must be one of: {', '.join(keys)}.")
        if item in chosen:
            raise _Refused(f"Must not list {item} more than once.")
        chosen.append(item)
    return chosen
