"""The share handled within target, per quarter (copa/targets defines the measures): reports
first acted on, complaint cases first contacted and referrals acknowledged within their targets.

Read from the raw rows (reports, complaint cases, referrals and what marks a first action), not
from rollups: whether an item met its target depends on the targets in force, which admins may
change. Staff-only figures here are not suppressed; the quarterly report (public) suppresses
small counts itself (copa/pcc_report).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from copa.metrics.ranges import Filters, MonthRange, percent, quarter_out
from copa.periods import Quarter, local_day_start
from copa.targets.service import (
    QuarterTallies,
    Tally,
    current_targets,
    settings_of,
    within_target_by_quarter,
)

MEASURES = ("reports", "complaints", "referrals")


def tally_out(tally: Tally) -> dict[str, Any]:
    """One measure of one quarter: counted, handled, within target and the share in %."""
    return {
        "counted": tally.counted,
        "handled": tally.handled,
        "within_target": tally.within_target,
        "percent_within_target": percent(tally.within_target, tally.counted),
    }


def within_target_quarters(
    ranges: Iterable[MonthRange], *, now: datetime | None = None
) -> dict[Quarter, QuarterTallies]:
    """The tallies of the items begun in the ranges' Europe/London months, by quarter."""
    found: dict[Quarter, QuarterTallies] = {}
    for months in ranges:
        found.update(
            within_target_by_quarter(
                local_day_start(months.first), local_day_start(months.end), now=now
            )
        )
    return found


def targets_in_force() -> dict[str, Any]:
    """The targets the figures were measured against, in hours."""
    return settings_of(current_targets())


def within_target(filters: Filters) -> dict[str, Any]:
    """Per quarter of the range: each measure's counted, handled, within target and share
    (staff only: no suppression)."""
    found = within_target_quarters([filters.months])
    return {
        **filters.echo(),
        "suppressed": False,
        "targets": targets_in_force(),
        "quarters": [
            {
                "quarter": quarter_out(quarter),
                **{
                    name: tally_out(getattr(found.get(quarter, QuarterTallies()), name))
                    for name in MEASURES
                },
            }
            for quarter in filters.months.quarters()
        ],
    }
