"""Use cases over the category catalogue."""

from __future__ import annotations

import sqlalchemy as sa

from copa.catalog.models import Category
from copa.catalog.seed import SEED_CATEGORIES
from copa.db import begin_write, db

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
    begin_write()
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
    db.session.commit()
    return added
