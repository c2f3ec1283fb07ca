"""Open data: the confidence counter per completed quarter and local authority, and signpost
click-throughs per completed quarter and topic, safe to publish.

Only aggregates leave: counts per financial quarter and local authority (no wards, no
coordinates, nothing about any resident), both channels (app votes and event tallies)
combined, for quarters that have ended in Europe/London (a quarter still running would
change under its readers); click-throughs per quarter and topic, force-wide. Small counts are
suppressed as ONS does, marked ``[c]`` (confidential), by ``disclose`` (and, for confidence,
``control_disclosure``):

* a count below 5, including 0, is suppressed (primary suppression);
* then, while what is suppressed could still be worked out from the row's total
  (``responses``, ``click_throughs``) minus the cells shown, the smallest cell shown (and any
  equal to it) is suppressed too (secondary suppression). That is the case when one cell
  alone is suppressed (it equals the difference), when the suppressed cells add up to fewer than 5 (the difference is itself a
  small count; 0 gives every cell away), and when they are all primary and add up to 4 times
  their number (each must then be 4);
* ``percent_confident`` is withheld whenever any option is suppressed (it would give back the
  confident cells), and a row with fewer than 5 responses shows nothing but its quarter and
  authority (a quarter with fewer than 5 click-throughs, nothing but its year and quarter).

There is no confidence total row across authorities: subtracting three published rows from a
total would give the fourth back. Click-throughs have no rows per authority at all.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from copa.areas.models import LocalAuthority
from copa.confidence.service import OPTION_KEYS
from copa.db import db
from copa.metrics.models import NONE, ClickThroughRollup, ConfidenceRollup
from copa.periods import Quarter, today_london
from copa.signposts.models import Topic

SUPPRESSED = "[c]"  # ONS's marker for a value withheld to protect confidentiality
THRESHOLD = 5  # counts below it are never shown (DOMAIN.md "Privacy")
_CONFIDENT = ("quite_confident", "very_confident")
CONFIDENCE_COLUMNS: tuple[str, ...] = (
    "fiscal_year",
    "quarter",
    "local_authority_code",
    "local_authority_name",
    "responses",
    *OPTION_KEYS,
    "percent_confident",
)
TOPICS: tuple[str, ...] = tuple(topic.value for topic in Topic)
CLICK_THROUGH_COLUMNS: tuple[str, ...] = ("fiscal_year", "quarter", "click_throughs", *TOPICS)


def disclose(counts: Sequence[int]) -> list[str]:
    """The cells to publish for one row of counts that add up to its total: the total, then
    each count, with small counts and those that would give them back as ``[c]`` (the rule
    of the module docstring). A total below 5 leaves every cell ``[c]``."""
    if not counts or any(count < 0 for count in counts):
        raise ValueError("one or more non-negative counts")
    total = sum(counts)
    if total < THRESHOLD:
        return [SUPPRESSED] * (len(counts) + 1)
    suppressed = {index for index, count in enumerate(counts) if count < THRESHOLD}
    while suppressed and len(suppressed) < len(counts) and _recoverable(counts, suppressed):
        # Every shown cell of the smallest count, not the first of them: the choice then does
        # not depend on the cells' order, so the suppressed values could be in any order.
        smallest = min(counts[index] for index in range(len(counts)) if index not in suppressed)
        suppressed |= {index for index, count in enumerate(counts) if count == smallest}
    cells = [
        SUPPRESSED if index in suppressed else str(count) for index, count in enumerate(counts)
    ]
    return [str(total), *cells]


def control_disclosure(counts: Sequence[int]) -> list[str]:
    """The cells to publish for one row of option counts (in ``OPTION_KEYS`` order):
    ``responses``, each option and ``percent_confident``, with small counts as ``[c]``."""
    if len(counts) != len(OPTION_KEYS) or any(count < 0 for count in counts):
        raise ValueError("one non-negative count per option")
    responses, *cells = disclose(counts)
    if responses == SUPPRESSED or SUPPRESSED in cells:
        percent = SUPPRESSED
    else:
        confident = sum(counts[OPTION_KEYS.index(key)] for key in _CONFIDENT)
        percent = f"{100 * confident / int(responses):.1f}"
    return [responses, *cells, percent]


def _recoverable(counts: Sequence[int], suppressed: set[int]) -> bool:
    """Could someone knowing the rule work out a suppressed cell from ``responses``?"""
    hidden = sum(counts[index] for index in suppressed)
    all_primary = all(counts[index] < THRESHOLD for index in suppressed)
    return (
        len(suppressed) == 1
        or hidden < THRESHOLD
        or (all_primary and hidden == (THRESHOLD - 1) * len(suppressed))
    )


def confidence_csv(today: date | None = None) -> str:
    """The open-data CSV: one row per completed quarter and local authority, controlled."""
    current = Quarter.of(today or today_london())
    counts: dict[tuple[Quarter, str], list[int]] = defaultdict(lambda: [0] * len(OPTION_KEYS))
    for fiscal_year, fiscal_quarter, authority, option, count in db.session.execute(
        sa.select(
            ConfidenceRollup.fiscal_year,
            ConfidenceRollup.fiscal_quarter,
            ConfidenceRollup.local_authority_code,
            ConfidenceRollup.option,
            sa.func.sum(ConfidenceRollup.count),
        )
        .where(
            sa.or_(
                ConfidenceRollup.fiscal_year < current.fiscal_year,
                sa.and_(
                    ConfidenceRollup.fiscal_year == current.fiscal_year,
                    ConfidenceRollup.fiscal_quarter < current.quarter,
                ),
            ),
            ConfidenceRollup.local_authority_code != NONE,
        )
        .group_by(
            ConfidenceRollup.fiscal_year,
            ConfidenceRollup.fiscal_quarter,
            ConfidenceRollup.local_authority_code,
            ConfidenceRollup.option,
        )
    ):
        if option in OPTION_KEYS:
            key = (Quarter(fiscal_year, fiscal_quarter), authority)
            counts[key][OPTION_KEYS.index(option)] += int(count or 0)

    names: dict[str, str] = {
        code: name
        for code, name in db.session.execute(sa.select(LocalAuthority.code, LocalAuthority.name))
    }
    # Every authority in every quarter, so a missing row never stands for "no answers".
    authorities = sorted(set(names) | {authority for _, authority in counts})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CONFIDENCE_COLUMNS)
    for quarter in _quarters(min((quarter for quarter, _ in counts), default=None), current):
        for authority in authorities:
            row = counts.get((quarter, authority), [0] * len(OPTION_KEYS))
            writer.writerow(
                [
                    quarter.fiscal_year,
                    quarter.label,  # "2025/26 Q3": a label, so no cell but a count is a number
                    authority,
                    names.get(authority, ""),
                    *control_disclosure(row),
                ]
            )
    return out.getvalue()


def click_throughs_csv(today: date | None = None) -> str:
    """The open-data CSV of click-throughs: one row per completed quarter, the total and one
    column per topic (``Topic`` order; a topic no longer known counts as ``other``),
    controlled."""
    current = Quarter.of(today or today_london())
    rollup = ClickThroughRollup
    counts: dict[Quarter, list[int]] = defaultdict(lambda: [0] * len(TOPICS))
    for fiscal_year, fiscal_quarter, topic, count in db.session.execute(
        sa.select(
            rollup.fiscal_year, rollup.fiscal_quarter, rollup.topic, sa.func.sum(rollup.count)
        )
        .where(_before(rollup, current))
        .group_by(rollup.fiscal_year, rollup.fiscal_quarter, rollup.topic)
    ):
        column = TOPICS.index(topic if topic in TOPICS else Topic.OTHER)
        counts[Quarter(fiscal_year, fiscal_quarter)][column] += int(count or 0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CLICK_THROUGH_COLUMNS)
    for quarter in _quarters(min(counts, default=None), current):
        row = counts.get(quarter, [0] * len(TOPICS))
        writer.writerow([quarter.fiscal_year, quarter.label, *disclose(row)])
    return out.getvalue()


def _before(rollup: Any, current: Quarter) -> sa.ColumnElement[bool]:
    """A rollup's rows of the quarters before ``current``."""
    return sa.or_(
        rollup.fiscal_year < current.fiscal_year,
        sa.and_(rollup.fiscal_year == current.fiscal_year, rollup.fiscal_quarter < current.quarter),
    )


def _quarters(first: Quarter | None, current: Quarter) -> list[Quarter]:
    """The quarters from ``first`` up to (not including) ``current``."""
    quarters: list[Quarter] = []
    quarter = first
    while quarter is not None and quarter < current:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters
