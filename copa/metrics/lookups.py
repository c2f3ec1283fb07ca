"""What the measures list and name: local authorities and wards, and categories by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import g

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import Area
from copa.catalog.models import Category
from copa.db import db
from copa.metrics.ranges import Filters

_CATEGORIES = "copa_metrics_categories"  # flask.g: the category names of this request


@dataclass(frozen=True)
class CategoryRef:
    code: str
    name: str
    group: str


def categories_by_id() -> dict[Any, CategoryRef]:
    """Every category (active or not: old reports keep theirs), by id; read once a request."""
    if _CATEGORIES not in g:
        rows = db.session.execute(
            sa.select(Category.id, Category.code, Category.name, Category.group)
        )
        setattr(g, _CATEGORIES, {id_: CategoryRef(c, n, grp) for id_, c, n, grp in rows})
    return getattr(g, _CATEGORIES)


def areas_listed(where: Filters) -> list[Area]:
    """The areas a per-area breakdown lists: authorities, or an authority's wards and itself."""
    if where.area is None:
        return all_authorities()
    if where.area.level == "ward":
        return [where.area]
    return [*wards_of(where.area.code), where.area]


def all_authorities() -> list[Area]:
    """Every local authority, by name."""
    rows = db.session.execute(
        sa.select(LocalAuthority.code, LocalAuthority.name).order_by(LocalAuthority.name)
    )
    return [Area(code, name, "local_authority", None, code) for code, name in rows]


def wards_of(authority_code: str | None = None) -> list[Area]:
    """The wards of one authority (or all), by name."""
    query = sa.select(Ward.code, Ward.name, Ward.local_authority_code).order_by(
        Ward.name, Ward.code
    )
    if authority_code is not None:
        query = query.where(Ward.local_authority_code == authority_code)
    return [Area(code, name, "ward", code, la) for code, name, la in db.session.execute(query)]
