"""The most common issues per area: categories, outcomes and destinations, most first."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Area
from copa.db import db
from copa.metrics.demand import report_rollup
from copa.metrics.lookups import (
    CategoryRef,
    all_authorities,
    categories_by_id,
    wards_of,
)
from copa.metrics.models import NONE
from copa.metrics.ranges import (
    Filters,
    Span,
    area_out,
    in_area,
    percent,
)

NO_OUTCOME = "none_recorded"


def common_issues(
    span: Span, *, area: Area | None = None, level: str = "local_authority", limit: int = 10
) -> dict[str, Any]:
    """The most common categories, and reports per area by outcome and destination (two
    queries)."""
    rollup, period = report_rollup(area, by_ward=level == "ward")
    inside = (span.where(period), in_area(rollup, area))
    categories = categories_by_id()
    counts = db.session.execute(
        sa.select(rollup.category_id, sa.func.sum(rollup.count))
        .where(*inside)
        .group_by(rollup.category_id)
    ).all()
    total = sum(int(count or 0) for _, count in counts)
    ranked = sorted(
        (
            (categories.get(id_, CategoryRef(str(id_), str(id_), "")), int(count or 0))
            for id_, count in counts
        ),
        key=lambda item: (-item[1], item[0].name),
    )
    key = rollup.ward_code if level == "ward" else rollup.local_authority_code
    areas = db.session.execute(
        sa.select(key, rollup.outcome, rollup.destination_kind, sa.func.sum(rollup.count))
        .where(*inside)
        .group_by(key, rollup.outcome, rollup.destination_kind)
    ).all()
    return {
        "total": total,
        "categories": [
            {
                "code": ref.code,
                "name": ref.name,
                "group": ref.group,
                "count": count,
                "share_percent": percent(count, total),
            }
            for ref, count in ranked[:limit]
        ],
        **_issues_by_area(areas, _issue_areas(area, level)),
    }


def _issue_areas(area: Area | None, level: str) -> list[Area]:
    if level == "local_authority":
        if area is None:
            return all_authorities()
        return [a for a in all_authorities() if a.code == area.local_authority_code]
    if area is None:
        return wards_of()
    if area.level == "ward":
        return [area]
    return wards_of(area.code)


def _issues_by_area(rows: Iterable[Any], areas: Sequence[Area]) -> dict[str, Any]:
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    destinations: dict[str, Counter[str]] = defaultdict(Counter)
    without_area = 0
    for code, outcome, destination, count in rows:
        count = int(count or 0)
        if code == NONE:
            without_area += count
            continue
        outcomes[code][outcome or NO_OUTCOME] += count
        destinations[code][destination] += count
    items = [
        {
            **area_out(area),
            "count": sum(outcomes[area.code].values()),
            "outcomes": _most_first(outcomes[area.code]),
            "destinations": _most_first(destinations[area.code]),
        }
        for area in areas
    ]
    items.sort(key=lambda item: (-item["count"], item["name"]))
    return {"by_area": items, "without_area": without_area}


def _most_first(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def issues(where: Filters, *, level: str = "local_authority", limit: int = 10) -> dict[str, Any]:
    """The most common categories over the range, and outcomes and destinations by area."""
    return {
        **where.echo(),
        "level": level,
        **common_issues(where.span, area=where.area, level=level, limit=limit),
    }
