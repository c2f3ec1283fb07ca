"""Signposts as admins manage them: create, update, reorder and deactivate (each audited), with
the checks that a signpost names a real area, category and feedback kind."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from copa.areas.models import LocalAuthority
from copa.audit.service import Actor, deactivate, record
from copa.catalog.models import Category
from copa.db import db, write
from copa.signposts.models import (
    Signpost,
)
from copa.signposts.service import SignpostNotFound
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, Unprocessable, problem_type


class SignpostCodeTaken(Conflict):
    type = problem_type("signpost-code-taken")


_SETTINGS = (
    "title",
    "description",
    "organisation",
    "url",
    "topic",
    "destination_kind",
    "local_authority_code",
    "category_codes",
    "feedback_kinds",
    "translations",
    "active",
    "sort_order",
)


def list_signposts(active: bool | None, topic: str | None, page: int, page_size: int) -> PageResult:
    """Every signpost (active or not) in display order, optionally of one state or topic."""
    statement = sa.select(Signpost).order_by(Signpost.sort_order, Signpost.title, Signpost.id)
    if active is not None:
        statement = statement.where(Signpost.active.is_(active))
    if topic is not None:
        statement = statement.where(Signpost.topic == topic)
    return paginate(statement, page, page_size)


def get_signpost(signpost_id: uuid.UUID) -> Signpost:
    signpost = db.session.get(Signpost, signpost_id)
    if signpost is None:
        raise SignpostNotFound("There is no signpost with that id.")
    return signpost


def create_signpost(principal: Principal, payload: Mapping[str, Any]) -> Signpost:
    """Add a signpost (409 when its code is taken), at the end of the order unless given."""
    try:
        with write():
            if db.session.scalar(sa.select(Signpost.id).where(Signpost.code == payload["code"])):
                raise _code_taken()
            _check_references(payload)
            last = db.session.scalar(sa.select(sa.func.max(Signpost.sort_order))) or 0
            signpost = Signpost(
                id=uuid.uuid4(),
                code=payload["code"],
                description="",
                category_codes=[],
                feedback_kinds=[],
                translations={},
                active=True,
                sort_order=last + 1,
                local_authority_code=None,
            )
            _apply(signpost, payload)
            db.session.add(signpost)
            record(
                Actor.of(principal),
                "signpost.create",
                "signpost",
                signpost.id,
                after=summary(signpost),
            )
    except IntegrityError as error:  # a concurrent create took the code first
        raise _code_taken() from error
    return signpost


def update_signpost(
    principal: Principal, signpost_id: uuid.UUID, changes: Mapping[str, Any]
) -> Signpost:
    """Change a signpost; clicks already counted keep the topic and kind they had."""
    with write():
        signpost = get_signpost(signpost_id)
        _check_references(changes)
        before = summary(signpost)
        _apply(signpost, changes)
        after = summary(signpost)
        changed = [name for name in after if after[name] != before[name]]
        record(
            Actor.of(principal),
            "signpost.update",
            "signpost",
            signpost.id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return signpost


def deactivate_signpost(principal: Principal, signpost_id: uuid.UUID) -> None:
    """Stop offering a signpost (its /go/ link answers 404); its counts stay."""
    with write():
        deactivate(Actor.of(principal), "signpost", get_signpost(signpost_id))


def reorder_signposts(principal: Principal, ids: Sequence[uuid.UUID]) -> list[Signpost]:
    """Put the listed signposts first, in that order; the rest keep their order after them."""
    if len(set(ids)) != len(ids):
        raise Unprocessable("A signpost is listed twice.", errors={"ids": ["Listed twice."]})
    with write():
        every = list(
            db.session.scalars(
                sa.select(Signpost).order_by(Signpost.sort_order, Signpost.title, Signpost.id)
            )
        )
        by_id = {s.id: s for s in every}
        unknown = [str(i) for i in ids if i not in by_id]
        if unknown:
            raise Unprocessable(
                "Some of those are not signposts.",
                errors={"ids": [f"Unknown signpost: {', '.join(unknown)}."]},
            )
        listed = [by_id[i] for i in ids]
        rest = [s for s in every if s.id not in set(ids)]
        before = [str(s.id) for s in every]
        for position, signpost in enumerate([*listed, *rest], start=1):
            signpost.sort_order = position
        record(
            Actor.of(principal),
            "signpost.reorder",
            "signpost",
            None,
            before={"order": before},
            after={"order": [str(s.id) for s in [*listed, *rest]]},
        )
    return [*listed, *rest]


def summary(signpost: Signpost) -> dict[str, Any]:
    """A signpost's settings as the audit log keeps them."""
    return {"code": signpost.code, **{name: getattr(signpost, name) for name in _SETTINGS}}


def _apply(signpost: Signpost, values: Mapping[str, Any]) -> None:
    for name in _SETTINGS:
        if name in values:
            value = values[name]
            if name in ("category_codes", "feedback_kinds"):
                value = list(dict.fromkeys(value))  # once each, in the order given
            setattr(signpost, name, value)


def _check_references(values: Mapping[str, Any]) -> None:
    """The local authority and categories named must exist (422 naming the field)."""
    authority = values.get("local_authority_code")
    if authority is not None and db.session.get(LocalAuthority, authority) is None:
        raise Unprocessable(
            "That is not a local authority of the Cleveland police force area.",
            errors={"local_authority_code": ["Unknown local authority."]},
        )
    codes = set(values.get("category_codes") or ())
    if codes:
        known = set(db.session.scalars(sa.select(Category.code).where(Category.code.in_(codes))))
        missing = sorted(codes - known)
        if missing:
            raise Unprocessable(
                "Some of those categories do not exist.",
                errors={"category_codes": [f"Unknown category: {', '.join(missing)}."]},
            )


def _code_taken() -> SignpostCodeTaken:
    return SignpostCodeTaken(
        "Another signpost already has that code.", errors={"code": ["Already taken."]}
    )
