"""Tallies: the counters of public-confidence answers collected at events (a pen-and-paper
sheet or a clicker), entered by staff and counted beside the app's votes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from copa.areas.service import Area
from copa.audit.service import Actor, record
from copa.confidence.models import Tally
from copa.confidence.service import OPTION_KEYS, area_named, area_names, area_ref
from copa.db import db, utcnow, write
from copa.periods import Quarter
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate


@dataclass(frozen=True)
class TallyRecord:
    id: uuid.UUID
    event_name: str
    event_date: date
    area: Area  # the ward or local authority voted for (or counted at)
    quarter: Quarter
    counts: dict[str, int]
    total: int
    entered_by: uuid.UUID | None
    created_at: datetime


def record_tally(
    principal: Principal,
    event_name: str,
    event_date: date,
    area: str,
    counts: Mapping[str, int],
) -> TallyRecord:
    """Store the counts of one physical counter session, entered by a member of staff (``TallyIn``
    has checked the counts: the five options only, at least one above 0)."""
    with write():
        target = area_named(area)
        quarter = Quarter.of(event_date)
        tally = Tally(
            id=uuid.uuid4(),
            event_name=event_name,
            event_date=event_date,
            area_code=target.code,
            ward_code=target.ward_code,
            local_authority_code=target.local_authority_code,
            fiscal_year=quarter.fiscal_year,
            fiscal_quarter=quarter.quarter,
            entered_by=principal.id,
            created_at=utcnow(),
            **{key: int(counts.get(key, 0)) for key in OPTION_KEYS},
        )
        db.session.add(tally)
        record(
            Actor.of(principal),
            "tally.create",
            "tally",
            tally.id,
            after={
                "event_name": event_name,
                "event_date": event_date,
                "area": target.code,
                "counts": {key: getattr(tally, key) for key in OPTION_KEYS},
            },
        )
    return _tally_records([tally])[0]


def list_tallies(
    page: int,
    page_size: int,
    *,
    area: str | None = None,
    fiscal_year: int | None = None,
    quarter: int | None = None,
) -> PageResult:
    """Event tallies, newest event first; ``area`` is a ward, or a local authority with its wards."""
    statement = sa.select(Tally).order_by(
        Tally.event_date.desc(), Tally.created_at.desc(), Tally.id
    )
    if area is not None:
        statement = statement.where(
            sa.or_(Tally.area_code == area, Tally.local_authority_code == area)
        )
    if fiscal_year is not None:
        statement = statement.where(Tally.fiscal_year == fiscal_year)
    if quarter is not None:
        statement = statement.where(Tally.fiscal_quarter == quarter)
    result = paginate(statement, page, page_size)
    result.items = _tally_records(result.items)
    return result


def _tally_records(tallies: list[Tally]) -> list[TallyRecord]:
    names = area_names(tallies)
    records = []
    for tally in tallies:
        counts = {key: getattr(tally, key) for key in OPTION_KEYS}
        records.append(
            TallyRecord(
                id=tally.id,
                event_name=tally.event_name,
                event_date=tally.event_date,
                area=area_ref(tally, names),
                quarter=Quarter(tally.fiscal_year, tally.fiscal_quarter),
                counts=counts,
                total=sum(counts.values()),
                entered_by=tally.entered_by,
                created_at=tally.created_at,
            )
        )
    return records
