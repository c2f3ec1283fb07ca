"""Partner performance: how fast each partner acknowledges and resolves its referrals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from copa.db import db
from copa.metrics.models import ReferralRollup
from copa.metrics.ranges import (
    Filters,
    Span,
)
from copa.metrics.rollups import DURATION_BUCKETS
from copa.routing.models import Partner


@dataclass
class Histogram:
    """Referral times of one partner and milestone: count and seconds per duration bucket."""

    counts: dict[int, int] = field(default_factory=dict)
    seconds: dict[int, int] = field(default_factory=dict)

    def add(self, bucket: int, count: int, seconds: int) -> None:
        self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.seconds[bucket] = self.seconds.get(bucket, 0) + seconds

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def median(self) -> int | None:
        """The median estimated from the buckets: linear interpolation inside the bucket that
        holds it; in the open last bucket, that bucket's mean."""
        n = self.n
        if n <= 0:
            return None
        target, below = n / 2, 0
        for bucket in sorted(self.counts):
            count = self.counts[bucket]
            if count <= 0 or below + count < target:
                below += count
                continue
            upper = DURATION_BUCKETS[bucket]
            if upper is None:
                return round(self.seconds[bucket] / count)
            lower = DURATION_BUCKETS[bucket - 1] if bucket else 0
            return round(lower + (target - below) / count * (upper - lower))
        return None


@dataclass
class PartnerTimes:
    sent: int = 0
    acknowledged: Histogram = field(default_factory=Histogram)
    resolved: Histogram = field(default_factory=Histogram)


def partner_performance(span: Span) -> list[dict[str, Any]]:
    """Per partner with referrals sent in the span: sent, acknowledged, resolved and the median
    times (estimated from the rollup's histogram), most referrals first. Two queries."""
    rollup = ReferralRollup
    query = (
        sa.select(
            rollup.partner_id,
            rollup.milestone,
            rollup.bucket,
            sa.func.sum(rollup.count),
            sa.func.sum(rollup.total_seconds),
        )
        .where(span.where(rollup.month))
        .group_by(rollup.partner_id, rollup.milestone, rollup.bucket)
    )
    times: dict[Any, PartnerTimes] = defaultdict(PartnerTimes)
    for partner_id, milestone, bucket, count, seconds in db.session.execute(query):
        partner = times[partner_id]
        if milestone == "sent":
            partner.sent += int(count or 0)
        else:
            getattr(partner, milestone).add(bucket, int(count or 0), int(seconds or 0))
    partners = {
        row.id: row
        for row in db.session.execute(
            sa.select(Partner.id, Partner.code, Partner.name, Partner.kind).where(
                Partner.id.in_(list(times))
            )
        )
    }
    rows = [
        {
            "code": partners[id_].code,
            "name": partners[id_].name,
            "kind": partners[id_].kind,
            "sent": found.sent,
            "acknowledged": found.acknowledged.n,
            "resolved": found.resolved.n,
            "median_seconds_to_acknowledge": found.acknowledged.median(),
            "median_seconds_to_resolve": found.resolved.median(),
        }
        for id_, found in times.items()
        if id_ in partners and (found.sent or found.acknowledged.n or found.resolved.n)
    ]
    rows.sort(key=lambda row: (-row["sent"], row["name"]))
    return rows


def partners(where: Filters) -> dict[str, Any]:
    """Referrals sent in the range per partner, and how many and how fast were acknowledged
    and resolved."""
    return {**where.echo(), "partners": partner_performance(where.span)}
