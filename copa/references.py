"""Human references (COPA-26-004213), shared by every kind of resident submission."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from copa.db import db, insert_for, utcnow
from copa.periods import local_year


class ReferenceCounter(db.Model):
    """The last number given out for a year's human references (COPA-26-004213): never reused.

    SQLite's source of numbers. On PostgreSQL a sequence per year gives them (see
    ``next_reference``) and this row only says where it started.
    """

    __tablename__ = "reference_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


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
