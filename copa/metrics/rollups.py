"""Keeping the rollups in step with the rows they count, in the same transaction.

Every flush is watched (``after_flush``): a new, changed or deleted report, referral, feedback,
complaint case, allegation, tally, vote or signpost click adds ``+1`` to the rollup rows it now
belongs to and ``-1`` to those it belonged to before. The deltas are summed per row and written
just before the commit as atomic upserts (``INSERT ... ON CONFLICT DO UPDATE SET count = count +
excluded.count``), never read then written, so concurrent transactions cannot lose a count. They
are written in one fixed order (table, then key), so two transactions touching the same rows
cannot deadlock each other.

The changes no flush sees are bulk UPDATEs: ``confidence.service`` replaces a vote that way and
``feedback.service`` stores a satisfaction answer that way. They note each such change with
``copa.db.bulk_changed`` (a feature does not import metrics), and the notes become deltas here
just before the commit.

``contributions(model, get)`` is the single definition of which rows a record counts in; the
reconciliation (``reconcile.py``) recomputes the rollups from the raw rows with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from copa.confidence.models import Tally, Vote
from copa.db import before_commit, dialect_insert, take_bulk_changes
from copa.feedback.models import Allegation, ComplaintCase, Feedback
from copa.metrics.models import (
    NONE,
    AllegationRollup,
    CallAnswerRollup,
    ClickThroughRollup,
    ComplaintRollup,
    ConfidenceRollup,
    FeedbackRollup,
    ReferralRollup,
    ReportMonthRollup,
    ReportRollup,
    SatisfactionRollup,
)
from copa.periods import Quarter, month_of, week_of
from copa.reports.models import Report
from copa.routing.models import Referral
from copa.signposts.models import SignpostClick

# Upper bounds (seconds) of the histogram of referral times; the last bucket is open.
DURATION_BUCKETS: tuple[int | None, ...] = (
    15 * 60,
    30 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    12 * 3600,
    24 * 3600,
    2 * 86400,
    3 * 86400,
    5 * 86400,
    7 * 86400,
    14 * 86400,
    28 * 86400,
    None,
)

# The option columns of a tally, in the counter's order (confidence.service.OPTIONS).
TALLY_OPTIONS = (
    "not_at_all_confident",
    "not_very_confident",
    "neither",
    "quite_confident",
    "very_confident",
)

Getter = Callable[[str], Any]


@dataclass(frozen=True)
class Contribution:
    """What one record adds to one rollup row."""

    rollup: type
    key: tuple[tuple[str, Any], ...]
    extras: tuple[tuple[str, Any], ...]  # columns fixed by the key (the quarter, the areas)
    increments: tuple[tuple[str, int], ...]


# Attributes each tracked model's contributions read: a change to any other is ignored.
TRACKED: dict[type, tuple[str, ...]] = {
    Report: (
        "created_at",
        "local_authority_code",
        "ward_code",
        "category_id",
        "channel",
        "destination_kind",
        "outcome",
        "would_have_called_101",
    ),
    Referral: ("sent_at", "partner_id", "acknowledged_at", "resolved_at"),
    Feedback: ("created_at", "local_authority_code", "ward_code", "kind"),
    Allegation: ("created_at", "group"),
    ComplaintCase: (
        "logged_at",
        "escalated_at",
        "first_action_at",
        "first_contact_at",
        "satisfaction_at",
        "satisfaction_score",
    ),
    Tally: ("event_date", "area_code", "ward_code", "local_authority_code", *TALLY_OPTIONS),
    Vote: ("cast_at", "area_code", "ward_code", "local_authority_code", "option", "counted"),
    SignpostClick: (
        "clicked_at",
        "local_authority_code",
        "signpost_id",
        "topic",
        "destination_kind",
        "source",
    ),
}


def contributions(model: type, get: Getter) -> Iterator[Contribution]:
    """The rollup rows a record of ``model`` counts in; ``get(name)`` reads its attributes."""
    yield from _CONTRIBUTORS[model](get)


def duration_bucket(seconds: int) -> int:
    """The index in DURATION_BUCKETS of the first bucket that holds ``seconds``."""
    for index, bound in enumerate(DURATION_BUCKETS):
        if bound is None or seconds <= bound:
            return index
    raise AssertionError("the last bucket is open")


def _quarter_of(day: date) -> tuple[tuple[str, Any], ...]:
    quarter = Quarter.of(day)
    return (("fiscal_year", quarter.fiscal_year), ("fiscal_quarter", quarter.quarter))


def _one(rollup: type, key: dict[str, Any], period: date, **extras: Any) -> Contribution:
    return Contribution(
        rollup, tuple(key.items()), (*_quarter_of(period), *extras.items()), (("count", 1),)
    )


def _report(get: Getter) -> Iterator[Contribution]:
    created = get("created_at")
    week, month = week_of(created), month_of(created)
    authority = get("local_authority_code") or NONE
    areas = {"local_authority_code": authority, "ward_code": get("ward_code") or NONE}
    what = {
        "category_id": get("category_id"),
        "channel": get("channel"),
        "destination_kind": get("destination_kind"),
        "outcome": get("outcome") or NONE,
    }
    yield _one(ReportRollup, {"week": week, **areas, **what}, week)
    yield _one(
        ReportMonthRollup, {"month": month, "local_authority_code": authority, **what}, month
    )
    yield _one(
        CallAnswerRollup,
        {"month": month, **areas, "answer": get("would_have_called_101") or NONE},
        month,
    )


def _referral(get: Getter) -> Iterator[Contribution]:
    sent = get("sent_at")
    month = month_of(sent)
    base = {"month": month, "partner_id": get("partner_id")}
    yield Contribution(
        ReferralRollup,
        tuple({**base, "milestone": "sent", "bucket": 0}.items()),
        _quarter_of(month),
        (("count", 1), ("total_seconds", 0)),
    )
    for milestone in ("acknowledged", "resolved"):
        at: datetime | None = get(f"{milestone}_at")
        if at is None:
            continue
        seconds = max(0, int((at - sent).total_seconds()))
        yield Contribution(
            ReferralRollup,
            tuple({**base, "milestone": milestone, "bucket": duration_bucket(seconds)}.items()),
            _quarter_of(month),
            (("count", 1), ("total_seconds", seconds)),
        )


def _feedback(get: Getter) -> Iterator[Contribution]:
    month = month_of(get("created_at"))
    yield _one(
        FeedbackRollup,
        {
            "month": month,
            "local_authority_code": get("local_authority_code") or NONE,
            "ward_code": get("ward_code") or NONE,
            "kind": get("kind"),
        },
        month,
    )


def _allegation(get: Getter) -> Iterator[Contribution]:
    month = month_of(get("created_at"))
    yield _one(AllegationRollup, {"month": month, "group": get("group")}, month)


def _complaint(get: Getter) -> Iterator[Contribution]:
    month = month_of(get("logged_at"))
    yield _one(
        ComplaintRollup,
        {
            "month": month,
            "escalated": get("escalated_at") is not None,
            "recovered": get("first_action_at") is not None,
            "contacted": get("first_contact_at") is not None,
        },
        month,
    )
    answered, score = get("satisfaction_at"), get("satisfaction_score")
    if answered is not None and score is not None:
        month = month_of(answered)
        yield _one(SatisfactionRollup, {"month": month, "score": score}, month)


def _confidence(get: Getter, channel: str, option: str, count: int, day: date) -> Contribution:
    month = month_of(day)
    return Contribution(
        ConfidenceRollup,
        (
            ("month", month),
            ("area_code", get("area_code")),
            ("channel", channel),
            ("option", option),
        ),
        (
            *_quarter_of(month),
            ("ward_code", get("ward_code") or NONE),
            ("local_authority_code", get("local_authority_code")),
        ),
        (("count", count),),
    )


def _tally(get: Getter) -> Iterator[Contribution]:
    for option in TALLY_OPTIONS:
        if get(option):
            yield _confidence(get, "event", option, get(option), get("event_date"))


def _vote(get: Getter) -> Iterator[Contribution]:
    if get("counted"):  # a replaced vote is kept but no longer counted
        yield _confidence(get, "app", get("option"), 1, get("cast_at"))


def _click(get: Getter) -> Iterator[Contribution]:
    month = month_of(get("clicked_at"))
    yield _one(
        ClickThroughRollup,
        {
            "month": month,
            "local_authority_code": get("local_authority_code") or NONE,
            "signpost_id": get("signpost_id"),
            "topic": get("topic"),
            "destination_kind": get("destination_kind"),
            "source": get("source"),
        },
        month,
    )


_CONTRIBUTORS: dict[type, Callable[[Getter], Iterator[Contribution]]] = {
    Report: _report,
    Referral: _referral,
    Feedback: _feedback,
    Allegation: _allegation,
    ComplaintCase: _complaint,
    Tally: _tally,
    Vote: _vote,
    SignpostClick: _click,
}


# --- the session's pending deltas ---------------------------------------------------------


@dataclass
class _Delta:
    extras: tuple[tuple[str, Any], ...]
    increments: dict[str, int] = field(default_factory=dict)


_PENDING = "copa.metrics.pending_rollups"


def _pending(session: Session) -> dict[tuple[type, tuple], _Delta]:
    return session.info.setdefault(_PENDING, {})


def _add(session: Session, items: Iterable[Contribution], sign: int) -> None:
    pending = _pending(session)
    for item in items:
        delta = pending.setdefault((item.rollup, item.key), _Delta(item.extras))
        for name, amount in item.increments:
            delta.increments[name] = delta.increments.get(name, 0) + sign * amount


def _add_bulk_changes(session: Session) -> None:
    """Move the rows that bulk UPDATEs changed (noted with ``copa.db.bulk_changed``) from the
    rollup rows they counted in to those they count in now."""
    for change in take_bulk_changes(session):
        if change.model in TRACKED:
            _add(session, contributions(change.model, change.before.__getitem__), -1)
            _add(session, contributions(change.model, change.after.__getitem__), +1)


def _before_change(obj: object) -> Getter:
    """Read an attribute as it was at the last flush (its history), else as it is."""
    state = sa.inspect(obj)

    def get(name: str) -> Any:
        history = state.attrs[name].history
        if history.added or history.deleted:
            return history.deleted[0] if history.deleted else None
        return getattr(obj, name)

    return get


def _changed(obj: object, names: tuple[str, ...]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _after_flush(session: Session, flush_context: object) -> None:
    for obj in session.new:
        model = type(obj)
        if model in TRACKED:
            _add(session, contributions(model, lambda name, obj=obj: getattr(obj, name)), +1)
    for obj in session.dirty:
        model = type(obj)
        if model in TRACKED and _changed(obj, TRACKED[model]):
            _add(session, contributions(model, _before_change(obj)), -1)
            _add(session, contributions(model, lambda name, obj=obj: getattr(obj, name)), +1)
    for obj in session.deleted:
        model = type(obj)
        if model in TRACKED:
            _add(session, contributions(model, _before_change(obj)), -1)


def write_pending(session: Session) -> None:
    """``copa.db.write()``'s last step before it commits: the transaction's rollup deltas."""
    session.flush()  # its after_flush adds the last deltas
    _add_bulk_changes(session)
    pending = session.info.pop(_PENDING, None)
    if pending:
        write(session, pending)


def write(session: Session, pending: dict[tuple[type, tuple], _Delta]) -> None:
    """Apply the deltas as upserts, in one fixed order so concurrent writers cannot deadlock.

    Rows of one shape (rollup, columns) that follow each other in that order go in one
    executemany of a statement built once per shape (psycopg pipelines it on PostgreSQL).
    """
    dialect = session.get_bind().dialect.name
    batch: list[dict[str, Any]] = []
    batch_shape: tuple | None = None
    for (rollup, key), delta in sorted(
        pending.items(), key=lambda item: (item[0][0].__tablename__, _sort_key(item[0][1]))
    ):
        if not any(delta.increments.values()):
            continue  # a change that moved nothing (left a row and came back to it)
        shape = (
            rollup,
            tuple(name for name, _ in key),
            tuple(name for name, _ in delta.extras),
            tuple(sorted(delta.increments)),
        )
        if shape != batch_shape and batch:
            session.execute(_upsert(dialect, *batch_shape), batch)
            batch = []
        batch_shape = shape
        batch.append({**dict(key), **dict(delta.extras), **delta.increments})
    if batch:
        session.execute(_upsert(dialect, *batch_shape), batch)


@cache
def _upsert(
    dialect: str,
    rollup: type,
    key_names: tuple[str, ...],
    extra_names: tuple[str, ...],
    increment_names: tuple[str, ...],
) -> sa.Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET n = n + excluded.n`` for one shape; its
    values come as execution parameters (every column named in them is inserted)."""
    statement = dialect_insert(rollup, dialect)
    return statement.on_conflict_do_update(
        index_elements=[getattr(rollup, name) for name in key_names],
        set_={name: getattr(rollup, name) + statement.excluded[name] for name in increment_names},
    )


def _sort_key(key: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
    return tuple(str(value) for _, value in key)


def _forget(session: Session, *args: object) -> None:
    session.info.pop(_PENDING, None)
    take_bulk_changes(session)


def install() -> None:
    """Collect deltas from every session's flushes; ``write()`` applies them before it commits."""
    before_commit(write_pending)
    if event.contains(Session, "after_flush", _after_flush):
        return
    event.listen(Session, "after_flush", _after_flush)
    # The application commits only through write(), which runs write_pending itself; this
    # listener counts what other commits carry (the tests' fixtures, a data migration).
    event.listen(Session, "before_commit", write_pending)
    event.listen(Session, "after_soft_rollback", _forget)
