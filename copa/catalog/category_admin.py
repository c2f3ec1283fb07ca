"""Categories as admins manage them: add, change (with their extra questions) and deactivate,
each audited with what it was before and after.

The reference caches of active categories and the public list's ETag follow on their own: a
change to the category table renews its reference token (copa/refcache.py) and changes the body
the ETag is a hash of. Reports already made keep the questions they were asked (a copy on the
report, ``Report.questions_asked``), so changing or removing a question rewrites no history.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from copa.audit.service import Actor, deactivate, record
from copa.catalog.models import Category
from copa.catalog.schemas import CODE
from copa.catalog.service import CategoryNotFound
from copa.db import db, write
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, problem_type


class CategoryCodeTaken(Conflict):
    type = problem_type("category-code-taken")


# Settings as the API names them -> the model's attribute.
_SETTINGS = {
    "name": "name",
    "description": "description",
    "group": "group",
    "default_destination": "default_destination",
    "keywords": "keywords",
    "location_required": "location_required",
    "sort_order": "sort_order",
    "questions": "attributes",
    "active": "active",
}


def list_categories(active: bool | None, page: int, page_size: int) -> PageResult:
    """Every category (offered or not) in display order, optionally only of one state."""
    statement = sa.select(Category).order_by(Category.sort_order, Category.code)
    if active is not None:
        statement = statement.where(Category.active.is_(active))
    return paginate(statement, page, page_size)


def get_category(code: str) -> Category:
    """One category by code, offered or not; ``CategoryNotFound`` (404) otherwise."""
    # A code no category can have (e.g. with a NUL, which PostgreSQL refuses) is not looked up.
    known = re.fullmatch(CODE, code) is not None
    category = known and db.session.scalar(sa.select(Category).where(Category.code == code))
    if not category:
        raise CategoryNotFound("There is no category with that code.")
    return category


def create_category(principal: Principal, payload: Mapping[str, Any]) -> Category:
    """Add a category (409 when its code is taken), offered at the end unless placed."""
    try:
        with write():
            if db.session.scalar(sa.select(Category.id).where(Category.code == payload["code"])):
                raise _code_taken()
            last = db.session.scalar(sa.select(sa.func.max(Category.sort_order))) or 0
            category = Category(
                id=uuid.uuid4(),
                code=payload["code"],
                description="",
                keywords=[],
                attributes=[],
                location_required=True,
                active=True,
                sort_order=last + 1,
            )
            _apply(category, payload)
            db.session.add(category)
            record(
                Actor.of(principal),
                "category.create",
                "category",
                category.id,
                after=summary(category),
            )
    except IntegrityError as error:  # a concurrent create took the code first
        raise _code_taken() from error
    return category


def update_category(principal: Principal, code: str, changes: Mapping[str, Any]) -> Category:
    """Change a category; its questions, when sent, replace the old ones (past reports keep
    what they were asked)."""
    with write():
        category = get_category(code)
        before = summary(category)
        _apply(category, changes)
        after = summary(category)
        changed = [name for name in after if after[name] != before[name]]
        if changed:
            record(
                Actor.of(principal),
                "category.update",
                "category",
                category.id,
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )
    return category


def deactivate_category(principal: Principal, code: str) -> None:
    """Stop offering a category to new reports; its reports, and what they were asked, stay."""
    with write():
        category = get_category(code)
        if category.active:
            deactivate(Actor.of(principal), "category", category)


def summary(category: Category) -> dict[str, Any]:
    """A category's settings as the audit log keeps them (questions under their API name)."""
    return {
        "code": category.code,
        **{name: getattr(category, attribute) for name, attribute in _SETTINGS.items()},
    }


def _apply(category: Category, values: Mapping[str, Any]) -> None:
    for name, attribute in _SETTINGS.items():
        if name in values:
            value = values[name]
            if name == "keywords":
                value = list(dict.fromkeys(value))  # once each, in the order given
            elif name == "questions":
                value = [{**question, "variable": True} for question in value]
            setattr(category, attribute, value)


def _code_taken() -> CategoryCodeTaken:
    return CategoryCodeTaken(
        "Another category already has that code.", errors={"code": ["Already taken."]}
    )
