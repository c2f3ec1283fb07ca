"""What every resident submission shares: a human reference, area attribution and the
emergency rule (DOMAIN.md, "Emergencies")."""

from __future__ import annotations

import re
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from copa.db import db, insert_for, utcnow
from copa.periods import local_year
from copa.reports.models import ReferenceCounter
from copa.settings import settings

EMERGENCY_ADVICE = (
    "If someone is in danger or a crime is happening now, call 999 now. This app is not watched "
    "all the time. For other non-emergencies you can also call 101."
)

DEFAULT_EMERGENCY_TERMS = (
    "weapon",
    "knife",
    "knives",
    "gun",
    "firearm",
    "shooting",
    "stabbed",
    "stabbing",
    "bleeding",
    "blood",
    "injured",
    "unconscious",
    "not breathing",
    "fire",
    "help me",
    "attacking",
    "being attacked",
    "kidnap",
    "overdose",
    "suicide",
    "kill myself",
)


def next_reference(session: Session | None = None) -> str:
    """The next human reference, e.g. ``COPA-26-004213``: unique and never reused.

    PostgreSQL takes the number from the year's sequence (``copa_next_reference``, created by a
    migration): no lock is held until the submission commits, and one that rolls back leaves a
    gap. SQLite upserts the year's counter row inside the caller's transaction; it allows one
    writer at a time anyway, and a rolled-back submission gives its number back.
    """
    session = session or db.session
    year = local_year(utcnow())
    if session.get_bind().dialect.name == "postgresql":
        number = session.scalar(_NEXT_FROM_SEQUENCE, {"year": year})
    else:
        stmt = insert_for(ReferenceCounter, session).values(year=year, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["year"], set_={"last": ReferenceCounter.last + 1}
        ).returning(ReferenceCounter.last)
        number = session.scalar(stmt)
    return f"COPA-{year % 100:02d}-{number:06d}"


_NEXT_FROM_SEQUENCE = sa.text("SELECT copa_next_reference(:year)")


def possible_emergency(text: str, happening_now: bool = False) -> bool:
    """DOMAIN.md's rule: it says it is happening now, or the text names an emergency term."""
    return happening_now or bool(_emergency_pattern(_terms()).search(text))


def _terms() -> tuple[str, ...]:
    configured = settings().emergency_terms
    if not configured:
        return DEFAULT_EMERGENCY_TERMS
    return tuple(t.strip().lower() for t in configured.split(",") if t.strip())


@lru_cache(maxsize=8)
def _emergency_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(term).replace(r"\ ", r"\s+") for term in terms)
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)
