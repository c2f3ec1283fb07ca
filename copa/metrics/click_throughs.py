"""Signpost click-throughs: demand the app sends on to the service that can meet it.

A click-through is a tap on a signpost's link in the app, or a visit through its counting
redirect (``/go/{code}``), counted by ``metrics/rollups.py`` in ``rollup_click_through`` per
Europe/London month, local authority ('' unknown), signpost, topic and destination kind. The
topic and destination kind are the signpost's at the click, so an edited signpost does not
rewrite history.

Every figure here comes from one query over the rollup grouped by month and dimension (and one
for the signposts' names): months, not quarters, because a quarter's baseline covers the same
months of the baseline year's quarter as the range covers of the quarter itself (a range ending
in November compares October-November with October-November), and because a range and its
baselines may overlap. The metrics API's ``/v1/metrics/demand`` and the quarterly report both
read ``ClickThroughs``, so they agree to the last digit.

Clicks are kept per local authority only: there is no ward-level figure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Area
from copa.db import db
from copa.metrics.models import ClickThroughRollup
from copa.metrics.ranges import (
    Filters,
    MonthRange,
    Span,
    add_months,
    baseline_of,
    one_decimal,
    percent,
)
from copa.periods import Quarter
from copa.signposts.models import (
    DESTINATION_KIND_LABELS,
    TOPIC_LABELS,
    DestinationKind,
    Signpost,
    Topic,
)

CAVEAT = (
    "Click-throughs count taps on signpost links in the app and visits through COPA's /go/ "
    "links to other services: one resident may tap more than once, so they count taps, not "
    "residents, and say nothing about what happened on the other service's site."
)
UNKNOWN_SIGNPOST = "Unknown signpost"


@dataclass
class Clicks:
    """Click-throughs of one period by topic, destination kind and signpost."""

    by_topic: Counter[str] = field(default_factory=Counter)
    by_destination_kind: Counter[str] = field(default_factory=Counter)
    by_signpost: Counter[Any] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_topic.values())

    def add(self, other: Clicks) -> None:
        self.by_topic.update(other.by_topic)
        self.by_destination_kind.update(other.by_destination_kind)
        self.by_signpost.update(other.by_signpost)


@dataclass(frozen=True)
class SignpostRef:
    code: str
    title: str
    organisation: str
    topic: str


def change_percent(count: int, baseline: int) -> float | None:
    """The relative change of ``count`` against ``baseline``, percent to one decimal; None
    when the baseline is 0 (no change can be worked out from nothing)."""
    return one_decimal((count - baseline) / baseline * 100) if baseline else None


def topic_label(topic: str) -> str:
    return TOPIC_LABELS.get(topic, topic.replace("_", " ").capitalize())


def destination_kind_label(kind: str) -> str:
    return DESTINATION_KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def topic_keys(*found: Iterable[str]) -> list[str]:
    """Every topic in ``Topic`` order, then any other the clicks carry (so none is lost)."""
    return _keys([topic.value for topic in Topic], found)


def destination_kind_keys(*found: Iterable[str]) -> list[str]:
    """Every destination kind in ``DestinationKind`` order, then any other the clicks carry."""
    return _keys([kind.value for kind in DestinationKind], found)


def _keys(known: list[str], found: Iterable[Iterable[str]]) -> list[str]:
    keys = dict.fromkeys(known)
    for more in found:
        keys.update(dict.fromkeys(sorted(set(more) - set(keys))))
    return list(keys)


class ClickThroughs:
    """The click-throughs of a span, per month, from one query (optionally one authority's)."""

    def __init__(self, span: Span, *, local_authority: str | None = None) -> None:
        rollup = ClickThroughRollup
        query = (
            sa.select(
                rollup.month,
                rollup.signpost_id,
                rollup.topic,
                rollup.destination_kind,
                sa.func.sum(rollup.count),
            )
            .where(span.where(rollup.month))
            .group_by(rollup.month, rollup.signpost_id, rollup.topic, rollup.destination_kind)
        )
        if local_authority is not None:
            query = query.where(rollup.local_authority_code == local_authority)
        self.by_month: dict[date, Clicks] = defaultdict(Clicks)
        for month, signpost_id, topic, kind, count in db.session.execute(query):
            clicks, count = self.by_month[month], int(count or 0)
            clicks.by_topic[topic] += count
            clicks.by_destination_kind[kind] += count
            clicks.by_signpost[signpost_id] += count
        self._signposts: dict[Any, SignpostRef] | None = None

    def of(self, months: Iterable[date]) -> Clicks:
        """The click-throughs of the given months together."""
        found = Clicks()
        for month in months:
            if month in self.by_month:
                found.add(self.by_month[month])
        return found

    def quarter(self, quarter: Quarter) -> Clicks:
        """The click-throughs of a whole quarter."""
        return self.of(quarter_months(quarter))

    @property
    def signposts(self) -> dict[Any, SignpostRef]:
        """The signposts clicked in the span, by id (one query, on first use)."""
        if self._signposts is None:
            ids = {id_ for clicks in self.by_month.values() for id_ in clicks.by_signpost}
            rows = db.session.execute(
                sa.select(
                    Signpost.id,
                    Signpost.code,
                    Signpost.title,
                    Signpost.organisation,
                    Signpost.topic,
                ).where(Signpost.id.in_(list(ids)))
            )
            self._signposts = {id_: SignpostRef(*rest) for id_, *rest in rows}
        return self._signposts

    def measures(self, current: Clicks, baseline: Clicks) -> dict[str, Any]:
        """A period's click-throughs by topic, destination kind and signpost, each with its
        share of the period's click-throughs and its change against ``baseline``."""
        total = current.total

        def signpost(id_: Any) -> dict[str, Any]:
            ref = self.signposts.get(id_) or SignpostRef(str(id_), UNKNOWN_SIGNPOST, "", "")
            return {
                "id": str(id_),
                "code": ref.code,
                "title": ref.title,
                "organisation": ref.organisation,
                "topic": ref.topic,
                "label": ref.title,
            }

        return {
            "total": total,
            "by_topic": _items(
                current.by_topic,
                baseline.by_topic,
                total,
                lambda key: {"topic": key, "label": topic_label(key)},
            ),
            "by_destination_kind": _items(
                current.by_destination_kind,
                baseline.by_destination_kind,
                total,
                lambda key: {"destination_kind": key, "label": destination_kind_label(key)},
            ),
            "by_signpost": _items(current.by_signpost, baseline.by_signpost, total, signpost),
            "change_against_baseline": {
                "total_baseline": baseline.total,
                "total_change_percent": change_percent(total, baseline.total),
            },
        }


def _items(
    counts: Mapping[Any, int],
    baseline: Mapping[Any, int],
    total: int,
    describe: Callable[[Any], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One item per key with click-throughs in the period or its baseline (so the items'
    baseline counts add up to the baseline's total), most first, then by label."""
    keys = {key for key, count in counts.items() if count} | {
        key for key, count in baseline.items() if count
    }
    items = []
    for key in keys:
        count, before = counts.get(key, 0), baseline.get(key, 0)
        items.append(
            {
                **describe(key),
                "count": count,
                "share_percent": percent(count, total),
                "baseline_count": before,
                "change_percent": change_percent(count, before),
            }
        )
    items.sort(key=lambda item: (-item["count"], item["label"], str(item.get("code", ""))))
    return items


def quarter_months(quarter: Quarter) -> list[date]:
    first = quarter.first_day()
    return [add_months(first, n) for n in range(3)]


@dataclass(frozen=True)
class Period:
    """A quarter of a range: the months the range covers of it, and the same months of its
    baseline quarter."""

    quarter: Quarter
    months: tuple[date, ...]
    baseline: tuple[date, ...]


def periods(months: MonthRange, baseline_year: int | None) -> list[Period]:
    """The range's quarters, each with its months and its baseline's (``baseline_of``)."""
    found = []
    for quarter in months.quarters():
        inside = tuple(month for month in months.months() if Quarter.of(month) == quarter)
        years = quarter.fiscal_year - baseline_of(quarter, baseline_year).fiscal_year
        found.append(Period(quarter, inside, tuple(add_months(m, -12 * years) for m in inside)))
    return found


def has_click_data(area: Area | None) -> bool:
    """Clicks are kept per local authority: a ward has no click-through figures."""
    return area is None or area.level != "ward"


def demand_click_throughs(
    where: Filters, baseline_year: int | None
) -> tuple[dict[Quarter, dict[str, Any]], dict[str, Any]] | None:
    """Each quarter's click-throughs of the range against its baseline, and the totals (the
    sum of the quarters and of their baselines); None for a ward. Two queries."""
    if not has_click_data(where.area):
        return None
    found = periods(where.months, baseline_year)
    span = Span.of(
        where.months,
        *(MonthRange(p.baseline[0], p.baseline[-1]) for p in found if p.baseline),
    )
    clicks = ClickThroughs(span, local_authority=where.area.code if where.area else None)
    current, baseline = Clicks(), Clicks()
    rows = {}
    for period in found:
        now, then = clicks.of(period.months), clicks.of(period.baseline)
        rows[period.quarter] = clicks.measures(now, then)
        current.add(now)
        baseline.add(then)
    return rows, clicks.measures(current, baseline)


def add_to_demand(found: dict[str, Any], where: Filters, baseline_year: int | None) -> None:
    """Put the click-throughs into ``service.demand_reduction``'s answer: each quarter row's
    and the totals' ``click_throughs`` (null for a ward), and the caveat."""
    clicks = demand_click_throughs(where, baseline_year)
    for row in found["quarters"]:
        quarter = Quarter(row["fiscal_year"], row["quarter"])
        row["click_throughs"] = clicks[0][quarter] if clicks else None
    found["totals"]["click_throughs"] = clicks[1] if clicks else None
    found["caveat"] = CAVEAT
