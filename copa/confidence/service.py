"""Use cases of the public-confidence counter (DOMAIN.md): the question, residents' app votes
and the tallies staff enter from physical counter sessions at community events.

One counted vote per resident and quarter, whatever area it names, is enforced by the database
(a partial unique index on ``vote``), not by reading first: two votes cast at the same moment
on PostgreSQL can both find nothing to replace, and the second to commit then fails on the
index. ``cast_vote`` retries such a clash from the start; the retry runs alone for that
resident (see ``_hold_resident``), sees the winner's vote and replaces it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import Area, area_by_code, locate_point
from copa.auth.models import Device
from copa.confidence.models import Vote
from copa.db import bulk_changed, db, utcnow, write
from copa.periods import Quarter
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, problem_type

log = logging.getLogger(__name__)

QUESTION = "How confident are you in policing in your area?"


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    value: int


# The five options of the physical counters, in order (DOMAIN.md): the single source of them.
OPTIONS: tuple[Option, ...] = (
    Option("not_at_all_confident", "Not at all confident", 1),
    Option("not_very_confident", "Not very confident", 2),
    Option("neither", "Neither", 3),
    Option("quite_confident", "Quite confident", 4),
    Option("very_confident", "Very confident", 5),
)
OPTION_KEYS: tuple[str, ...] = tuple(option.key for option in OPTIONS)
_OPTION_BY_KEY = {option.key: option for option in OPTIONS}

# A retry runs alone for its resident and so succeeds at once; the bound is a backstop.
MAX_ATTEMPTS = 5
_COUNTED_VOTE_INDEX = "uq_vote_counted_per_resident_quarter"
# What the rollup of a vote replaced by a bulk UPDATE needs to take it out again, and what the
# answer says about it.
_ROLLED_UP = (
    Vote.id,
    Vote.cast_at,
    Vote.area_code,
    Vote.ward_code,
    Vote.local_authority_code,
    Vote.option,
    sa.literal(True).label("counted"),
)


class VoteConflict(Conflict):
    type = problem_type("vote-conflict")


@dataclass(frozen=True)
class ReplacedVote:
    """The earlier counted vote (of the same quarter, for any area) that a vote replaced."""

    id: uuid.UUID
    area: Area


@dataclass(frozen=True)
class VoteRecord:
    """A vote as its resident sees it."""

    id: uuid.UUID
    option: str
    value: int
    area: Area  # the ward or local authority voted for (or counted at)
    quarter: Quarter
    counted: bool
    replaces: ReplacedVote | None  # the earlier counted vote of the quarter it replaced
    cast_at: datetime

    @property
    def replaced(self) -> bool:
        """Casting it replaced an earlier counted vote of the same quarter (any area)."""
        return self.replaces is not None


# --- the question -------------------------------------------------------------------------


def get_question() -> dict[str, Any]:
    """The Commissioner's question and its five options, in order."""
    return {"question": QUESTION, "options": OPTIONS}


# --- votes --------------------------------------------------------------------------------


def cast_vote(
    device_id: uuid.UUID,
    option: str,
    *,
    area: str | None = None,
    location: Mapping[str, float] | None = None,
    now: datetime | None = None,
) -> VoteRecord:
    """Record a resident's vote for an area (a code, or a point attributed to its ward): exactly
    one of ``area`` and ``location``, and a known option (``VoteIn`` checks both, once).

    It becomes the resident's one counted vote of the quarter, whatever area it names: an
    earlier counted one (for this or any other area) is kept but no longer counted.
    """
    chosen = option_of(option)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _cast_once(
                device_id, chosen, area, location, now or utcnow(), retrying=attempt > 1
            )
        except IntegrityError as error:
            if not _is_counted_vote_clash(error):
                raise
            log.info(
                "vote clashed with a concurrent vote of the same resident (attempt %d of %d)",
                attempt,
                MAX_ATTEMPTS,
            )
    raise VoteConflict(
        "Another vote of yours was being counted at the same moment. Try again.",
        headers={"Retry-After": "1"},
    )


def _cast_once(
    device_id: uuid.UUID,
    option: Option,
    area: str | None,
    location: Mapping[str, float] | None,
    now: datetime,
    *,
    retrying: bool,
) -> VoteRecord:
    with write(savepoint=True):  # a clash is retried: inside a caller's unit too
        _hold_resident(device_id, exclusive=retrying)
        target = area_named(area) if area is not None else located(location or {})
        quarter = Quarter.of(now)
        replaced = db.session.execute(
            sa.update(Vote)
            .where(
                Vote.device_id == device_id,
                Vote.fiscal_year == quarter.fiscal_year,
                Vote.fiscal_quarter == quarter.quarter,
                Vote.counted.is_(True),
            )
            .values(counted=False, replaced_at=now)
            .returning(*_ROLLED_UP, Vote.fiscal_year, Vote.fiscal_quarter, Vote.replaced_at)
            .execution_options(synchronize_session=False)
        ).all()
        for row in replaced:  # a bulk UPDATE: the rollups are told, no flush sees it
            bulk_changed(Vote, row, {"counted": False})
        vote = Vote(
            id=uuid.uuid4(),
            device_id=device_id,
            option=option.key,
            value=option.value,
            area_code=target.code,
            ward_code=target.ward_code,
            local_authority_code=target.local_authority_code,
            fiscal_year=quarter.fiscal_year,
            fiscal_quarter=quarter.quarter,
            cast_at=now,
            counted=True,
        )
        db.session.add(vote)
        # The index allows one counted vote per resident and quarter: at most one was replaced.
        replaces = next(iter(_replaced_votes(replaced).values()), None)
    return VoteRecord(
        id=vote.id,
        option=vote.option,
        value=vote.value,
        area=target,
        quarter=quarter,
        counted=True,
        replaces=replaces,
        cast_at=now,
    )


def adopt_votes(from_device_id: uuid.UUID, to_device_id: uuid.UUID) -> int:
    """Give the votes of a resident's old install to their new one (a transfer; part of the
    caller's transaction, which holds both devices' rows). Returns how many moved.

    Where both installs have a counted vote in the same quarter (for any areas), the more
    recent stays counted and the other is kept uncounted, as if the later vote had replaced it.
    """
    old, new = aliased(Vote), aliased(Vote)
    clashes = db.session.execute(
        sa.select(old.id, old.cast_at, new.id, new.cast_at)
        .join(
            new,
            sa.and_(
                new.fiscal_year == old.fiscal_year,
                new.fiscal_quarter == old.fiscal_quarter,
            ),
        )
        .where(
            old.device_id == from_device_id,
            old.counted.is_(True),
            new.device_id == to_device_id,
            new.counted.is_(True),
        )
    ).all()
    for old_id, old_cast_at, new_id, new_cast_at in clashes:
        older, later_cast_at = (
            (new_id, old_cast_at) if old_cast_at > new_cast_at else (old_id, new_cast_at)
        )
        replaced = db.session.execute(
            sa.update(Vote)
            .where(Vote.id == older)
            .values(counted=False, replaced_at=later_cast_at)
            .returning(*_ROLLED_UP)
            .execution_options(synchronize_session=False)
        ).all()
        for row in replaced:
            bulk_changed(Vote, row, {"counted": False})
    return db.session.execute(
        sa.update(Vote)
        .where(Vote.device_id == from_device_id)
        .values(device_id=to_device_id)
        .execution_options(synchronize_session=False)
    ).rowcount


def _hold_resident(device_id: uuid.UUID, *, exclusive: bool) -> None:
    """Lock the resident's device row: shared on a first attempt, exclusive on a retry.

    First attempts share the lock and run side by side; two of them can still clash on the
    unique index, which is the retry's cue. A retry waits until no other vote of this resident
    is in flight and then runs alone, so it cannot clash again: under contention an optimistic
    retry loses round after round (8 threads voting at once needed up to 29 attempts), an
    exclusive one succeeds at its first go. On SQLite there is nothing to lock: BEGIN
    IMMEDIATE already lets one writer in at a time (and FOR ... would render as nothing).
    """
    if db.session.get_bind().dialect.name == "sqlite":
        return
    row = sa.select(Device.id).where(Device.id == device_id)
    # FOR UPDATE conflicts with every other row lock; FOR KEY SHARE only with FOR UPDATE.
    mode = {} if exclusive else {"read": True, "key_share": True}
    db.session.execute(row.with_for_update(**mode))


def _is_counted_vote_clash(error: IntegrityError) -> bool:
    """The unique index on counted votes refused the insert (not some other constraint)."""
    diag = getattr(error.orig, "diag", None)  # psycopg names the constraint
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name == _COUNTED_VOTE_INDEX
    # SQLite names the columns instead.
    return "UNIQUE constraint failed: vote.device_id" in str(error.orig)


def list_votes(device_id: uuid.UUID, page: int, page_size: int) -> PageResult:
    """The resident's own votes, newest first, counted or not."""
    statement = (
        sa.select(Vote)
        .where(Vote.device_id == device_id)
        .order_by(Vote.cast_at.desc(), Vote.counted.desc(), Vote.id)
    )
    result = paginate(statement, page, page_size)
    result.items = _vote_records(device_id, result.items)
    return result


def get_vote(device_id: uuid.UUID, vote_id: uuid.UUID) -> VoteRecord:
    """One of the resident's own votes; 404 for anyone else's (existence is not confirmed)."""
    vote = db.session.scalar(sa.select(Vote).where(Vote.id == vote_id, Vote.device_id == device_id))
    if vote is None:
        raise NotFound("No such vote.")
    return _vote_records(device_id, [vote])[0]


def _vote_records(device_id: uuid.UUID, votes: list[Vote]) -> list[VoteRecord]:
    if not votes:
        return []
    names = area_names(votes)
    # A vote replaced another when that one was uncounted in the same transaction, which stamps
    # its replaced_at with the new vote's cast_at (a transfer stamps it the same way).
    replaced = _replaced_votes(
        db.session.execute(
            sa.select(*_ROLLED_UP, Vote.fiscal_year, Vote.fiscal_quarter, Vote.replaced_at).where(
                Vote.device_id == device_id,
                Vote.replaced_at.in_(list({vote.cast_at for vote in votes})),
            )
        ).all()
    )
    return [
        VoteRecord(
            id=vote.id,
            option=vote.option,
            value=vote.value,
            area=area_ref(vote, names),
            quarter=Quarter(vote.fiscal_year, vote.fiscal_quarter),
            counted=vote.counted,
            replaces=replaced.get((vote.fiscal_year, vote.fiscal_quarter, vote.cast_at)),
            cast_at=vote.cast_at,
        )
        for vote in votes
    ]


def _replaced_votes(rows: Iterable[Any]) -> dict[tuple[int, int, datetime], ReplacedVote]:
    """The replaced votes (rows with Vote's id, area, quarter and replaced_at columns) by the
    quarter and moment of the vote that replaced them. Where one replaced several (the upgrade
    to one vote per quarter whatever the area did that), the most recent of them."""
    rows = sorted(rows, key=lambda row: (row.cast_at, row.id))
    names = area_names(rows)
    return {
        (row.fiscal_year, row.fiscal_quarter, row.replaced_at): ReplacedVote(
            row.id, area_ref(row, names)
        )
        for row in rows
    }


# --- areas --------------------------------------------------------------------------------


def option_of(key: str) -> Option:
    """One of the five options, by key (``VoteIn`` has refused any other)."""
    return _OPTION_BY_KEY[key]


def area_named(code: str) -> Area:
    """A stored ward or local authority, by GSS code; 422 on ``area`` otherwise."""
    return area_by_code(code)


def located(point: Mapping[str, float]) -> Area:
    """The ward a point falls in (``OutOfArea``, a 422 on ``location``, outside Cleveland)."""
    where = locate_point(point)
    return Area(
        where.ward_code, where.ward_name, "ward", where.ward_code, where.local_authority_code
    )


def area_names(rows: Iterable[Any]) -> dict[str, str]:
    """The names of the areas of votes, tallies or rows with their area columns."""
    rows = list(rows)
    wards = {row.ward_code for row in rows if row.ward_code}
    authorities = {row.area_code for row in rows if not row.ward_code}
    names: dict[str, str] = {}
    if wards:
        query = sa.select(Ward.code, Ward.name).where(Ward.code.in_(wards))
        names.update((code, name) for code, name in db.session.execute(query))
    if authorities:
        query = sa.select(LocalAuthority.code, LocalAuthority.name).where(
            LocalAuthority.code.in_(authorities)
        )
        names.update((code, name) for code, name in db.session.execute(query))
    return names


def area_ref(row: Any, names: Mapping[str, str]) -> Area:
    level = "ward" if row.ward_code else "local_authority"
    name = names.get(row.area_code, row.area_code)
    return Area(row.area_code, name, level, row.ward_code, row.local_authority_code)
