"""Page-numbered lists: ``?page=&page_size=`` in, ``{items, page, page_size, total}`` out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.db import db
from copa.web.schemas import StrictSchema

MAX_PAGE = 10_000  # bounded: an unbounded integer overflows the database's OFFSET
MAX_PAGE_SIZE = 100


class PageQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class DateRangeQuery(PageQuery):
    """``from``/``to``: Europe/London dates, both inclusive."""

    from_date = fields.Date(data_key="from", metadata={"description": "First day (London)."})
    to_date = fields.Date(data_key="to", metadata={"description": "Last day (London), inclusive."})

    @validates_schema
    def _in_order(self, data, **kwargs):  # noqa: ANN001
        if data.get("from_date") and data.get("to_date") and data["from_date"] > data["to_date"]:
            raise ValidationError({"to": ["Must not be before from."]})


@dataclass
class PageResult:
    items: list[Any]
    page: int
    page_size: int
    total: int


def paginate(statement: sa.Select, page: int, page_size: int) -> PageResult:
    """One page of an ordered select, and how many rows the whole select has."""
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    )
    rows = db.session.scalars(statement.limit(page_size).offset((page - 1) * page_size))
    return PageResult(list(rows.unique()), page, page_size, total or 0)


@cache
def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The envelope schema for a page of ``item_schema`` (one class per item schema)."""
    name = item_schema.__name__.removesuffix("Out") + "PageOut"
    return type(
        name,
        (Schema,),
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        },
    )
