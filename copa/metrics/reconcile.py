"""Recomputing the rollups from the raw rows: the check that they were kept right.

``flask copa reconcile`` compares each rollup row with what the raw rows say it should hold
(using ``rollups.contributions``, the one definition of which rows a record counts in) and lists
every difference. With ``--repair`` it rewrites the rollups from the raw rows: for a database
upgraded from before the rollups existed, or after a fault the check found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from copa.db import db, snapshot, write
from copa.metrics.models import ROLLUPS
from copa.metrics.rollups import TRACKED, contributions
from copa.web import telemetry

_BATCH = 10_000
Key = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Mismatch:
    """One rollup row that differs from the raw rows' count."""

    table: str
    key: dict[str, Any]
    expected: dict[str, int]  # counted from the raw rows
    actual: dict[str, int]  # held by the rollup


@dataclass(frozen=True)
class Reconciliation:
    rows: dict[str, int]  # rollup rows checked, per table
    mismatches: list[Mismatch]


@dataclass
class _Row:
    extras: Key  # the columns the key determines (quarter, areas)
    totals: dict[str, int]


def expected_rollups() -> dict[type, dict[Key, _Row]]:
    """Every rollup row as the raw rows say it should be (rows that count nothing left out)."""
    expected: dict[type, dict[Key, _Row]] = {rollup: {} for rollup in ROLLUPS}
    for model, names in TRACKED.items():
        columns = [getattr(model, name).label(name) for name in names]
        rows = db.session.execute(sa.select(*columns).execution_options(yield_per=_BATCH))
        for row in rows:
            values = row._mapping
            for item in contributions(model, values.__getitem__):
                totals = expected[item.rollup].setdefault(item.key, _Row(item.extras, {})).totals
                for name, amount in item.increments:
                    totals[name] = totals.get(name, 0) + amount
    return {
        rollup: {key: row for key, row in rows.items() if any(row.totals.values())}
        for rollup, rows in expected.items()
    }


def _actual(rollup: type) -> Iterator[tuple[Key, dict[str, int]]]:
    mapper = sa.inspect(rollup)
    keys = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    counters = [name for name in ("count", "total_seconds") if name in mapper.columns]
    statement = sa.select(*(getattr(rollup, name) for name in [*keys, *counters]))
    for row in db.session.execute(statement.execution_options(yield_per=_BATCH)):
        values = dict(zip([*keys, *counters], row, strict=True))
        totals = {name: values[name] for name in counters}
        if any(totals.values()):
            yield tuple((name, values[name]) for name in keys), totals


def reconcile() -> Reconciliation:
    """Compare every rollup with the raw rows, in one consistent snapshot; writes nothing."""
    # One snapshot for every statement: raw rows and their rollups commit together.
    with snapshot():
        expected = expected_rollups()
        mismatches: list[Mismatch] = []
        rows: dict[str, int] = {}
        for rollup in ROLLUPS:
            table = rollup.__tablename__
            wanted = {key: row.totals for key, row in expected[rollup].items()}
            rows[table] = 0
            for key, actual in _actual(rollup):
                rows[table] += 1
                should = wanted.pop(key, None) or {name: 0 for name in actual}
                if any(should.get(name, 0) != value for name, value in actual.items()):
                    mismatches.append(Mismatch(table, dict(key), should, actual))
            for key, should in wanted.items():  # counted by the raw rows, missing in the rollup
                mismatches.append(Mismatch(table, dict(key), should, {name: 0 for name in should}))
    # /metrics: copa_reconcile_mismatches_total and the last run's count (a process of its own
    # reaches the web's /metrics through the shared PROMETHEUS_MULTIPROC_DIR).
    telemetry.RECONCILE_RUNS.inc()
    telemetry.RECONCILE_MISMATCHES.inc(len(mismatches))
    telemetry.RECONCILE_LAST_MISMATCHES.set(len(mismatches))
    return Reconciliation(rows, mismatches)


def repair() -> dict[str, int]:
    """Rewrite every rollup from the raw rows; returns the rows written per table.

    On PostgreSQL the rollup tables are locked first, so no transaction can commit a counted
    change meanwhile (each must update a rollup before it commits): submissions wait for it.
    """
    with write():
        if db.session.get_bind().dialect.name == "postgresql":
            names = ", ".join(rollup.__tablename__ for rollup in ROLLUPS)
            db.session.execute(sa.text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
        expected = expected_rollups()
        written: dict[str, int] = {}
        for rollup in ROLLUPS:
            db.session.execute(sa.delete(rollup))
            rows = [
                {**dict(key), **dict(row.extras), **row.totals}
                for key, row in expected[rollup].items()
            ]
            for start in range(0, len(rows), _BATCH):
                db.session.execute(sa.insert(rollup), rows[start : start + _BATCH])
            written[rollup.__tablename__] = len(rows)
    return written
