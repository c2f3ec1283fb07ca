"""The public-confidence measures (DOMAIN.md "Public confidence"): the five options per
quarter, month or area, % confident with its Wilson interval, and net confidence."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Area
from copa.confidence.service import OPTION_KEYS
from copa.db import db
from copa.metrics.lookups import areas_listed
from copa.metrics.models import ConfidenceRollup
from copa.metrics.ranges import (
    Filters,
    Span,
    area_out,
    by_quarter,
    in_area,
    month_label,
    one_decimal,
    percent,
    quarter_out,
)
from copa.periods import Quarter

CONFIDENT = ("quite_confident", "very_confident")
NOT_CONFIDENT = ("not_at_all_confident", "not_very_confident")
CHANNELS = ("app", "event")
CAVEAT = (
    "App votes and event counters are self-selected: the people who answer choose themselves, "
    "so the figures describe those who answered, not the population of Cleveland, and are not "
    "comparable with the Crime Survey for England and Wales."
)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion ``successes / n`` (0-1); None when n is 0.

    Unlike the normal approximation it stays inside [0, 1] and behaves for small n and
    proportions near 0 or 1, which small wards and quarters produce.
    """
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Distribution:
    """Counts of the five options (and of each channel) for one group."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPTION_KEYS, 0))
    channels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))

    def add(self, channel: str, option: str, count: int) -> None:
        self.counts[option] = self.counts.get(option, 0) + count
        self.channels[channel] = self.channels.get(channel, 0) + count

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def measures(self) -> dict[str, Any]:
        """n, the counts, % confident with its 95% Wilson interval, and net confidence."""
        n = self.n
        confident = sum(self.counts[key] for key in CONFIDENT)
        not_confident = sum(self.counts[key] for key in NOT_CONFIDENT)
        interval = wilson_interval(confident, n)
        return {
            "n": n,
            "counts": dict(self.counts),
            "channels": dict(self.channels),
            "percent_confident": percent(confident, n),
            "interval": (
                {"lower": one_decimal(interval[0] * 100), "upper": one_decimal(interval[1] * 100)}
                if interval
                else None
            ),
            # The difference of the rounded figures would drift by 0.1: round the exact one.
            "net_confidence": one_decimal((confident - not_confident) / n * 100) if n else None,
        }


def confidence_distributions(
    span: Span, keys: Sequence[Any], *, area: Area | None = None, channel: str | None = None
) -> dict[tuple, Distribution]:
    """One query: the option counts per value of ``keys`` (rollup columns) inside the span."""
    rollup = ConfidenceRollup
    query = (
        sa.select(*keys, rollup.channel, rollup.option, sa.func.sum(rollup.count))
        .where(span.where(rollup.month), in_area(rollup, area))
        .group_by(*keys, rollup.channel, rollup.option)
    )
    if channel is not None:
        query = query.where(rollup.channel == channel)
    groups: dict[tuple, Distribution] = defaultdict(Distribution)
    for *key, row_channel, option, count in db.session.execute(query):
        groups[tuple(key)].add(row_channel, option, int(count or 0))
    return groups


def confidence_by_quarter(
    span: Span, *, area: Area | None = None, channel: str | None = None
) -> dict[Quarter, Distribution]:
    """The distribution of each quarter of the span that has any answer."""
    groups = confidence_distributions(
        span, by_quarter(ConfidenceRollup), area=area, channel=channel
    )
    return {Quarter(*key): distribution for key, distribution in groups.items()}


def public_confidence(
    where: Filters, *, channel: str | None = None, group_by: str = "quarter"
) -> dict[str, Any]:
    """The confidence measures per quarter, month or area, with the total over the range."""
    grouping = {"quarter": _confidence_quarters, "month": _confidence_months}
    groups = grouping.get(group_by, _confidence_areas)(where, channel)
    total = Distribution()
    for _, distribution in groups:
        for key, count in distribution.counts.items():
            total.counts[key] += count
        for key, count in distribution.channels.items():
            total.channels[key] += count
    return {
        **where.echo(),
        "channel": channel,
        "group_by": group_by,
        "groups": [{**key, **distribution.measures()} for key, distribution in groups],
        "total": total.measures(),
        "caveat": CAVEAT,
    }


Grouped = list[tuple[dict[str, Any], Distribution]]


def _confidence_quarters(where: Filters, channel: str | None) -> Grouped:
    found = confidence_by_quarter(where.span, area=where.area, channel=channel)
    return [
        (quarter_out(quarter), found.get(quarter, Distribution()))
        for quarter in where.months.quarters()
    ]


def _confidence_months(where: Filters, channel: str | None) -> Grouped:
    found = confidence_distributions(
        where.span, (ConfidenceRollup.month,), area=where.area, channel=channel
    )
    return [
        ({"month": month_label(month)}, found.get((month,), Distribution()))
        for month in where.months.months()
    ]


def _confidence_areas(where: Filters, channel: str | None) -> Grouped:
    # Without an area: per local authority. With an authority: per ward, and its own row for
    # the votes cast for the authority as a whole (area_code is then the authority's code).
    rollup = ConfidenceRollup
    by_authority = where.area is None
    key = rollup.local_authority_code if by_authority else rollup.area_code
    found = confidence_distributions(where.span, (key,), area=where.area, channel=channel)
    return [
        ({"area": area_out(area)}, found.get((area.code,), Distribution()))
        for area in areas_listed(where)
    ]
