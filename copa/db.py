"""Declarative base, column types and transaction helpers shared by every feature."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, registry

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def lease_owner() -> str:
    """A name no other process has, for the leases it takes on rows (relays, media workers):
    host, process id and a random part (at most 64 characters)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite has no time zones, so values are stored as naive UTC and given their zone back
    on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), uuid.UUID: sa.Uuid()},
    )


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


class UUIDPrimaryKey:
    """Public identifiers are UUIDs: unguessable, and no integer overflow in routes."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# SQLite: WAL, foreign keys, a busy timeout, and transactions that SQLAlchemy begins itself,
# so SAVEPOINTs work and write transactions can ask for BEGIN IMMEDIATE.
@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not just unlinked: erased contact details leave
    # no bytes behind in the database file (the WAL is emptied by scrub_deleted()).
    cursor.execute("PRAGMA secure_delete=ON")
    from flask import has_app_context

    from copa.settings import settings

    timeout = settings().sqlite_busy_timeout_ms if has_app_context() else 10_000
    cursor.execute(f"PRAGMA busy_timeout={int(timeout)}")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection: sa.Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# --- the one transaction helper ----------------------------------------------------------

_UNIT = "copa.db.unit"
_BEFORE_COMMIT: list[Callable[[Session], None]] = []


class PartFailed(RuntimeError):
    """A part of a transaction raised, was caught, and its unit was about to commit anyway."""


@dataclass
class _Unit:
    failed: bool = False  # a joined part raised (and the caller may have caught it)


@contextmanager
def write(*, savepoint: bool = False) -> Iterator[Session]:
    """Run a block as (part of) one write transaction: the only place anything commits.

    The outermost ``write()`` begins the session's transaction as a write (on SQLite it takes
    the write lock up front, BEGIN IMMEDIATE, because a read transaction that later writes fails
    with "database is locked" when another writer got in between), runs the steps registered
    with :func:`before_commit` (the metrics rollups) and commits when the block ends; it rolls
    everything back when the block raises.

    A ``write()`` inside another (a service called by a service, or by the idempotency layer,
    which opens the outer one to store its response in the same transaction) joins it: the
    outer one commits both or neither. A joined part flushes when it ends, so its constraint
    errors reach its own ``except`` as they would at a commit. If a joined part raises and its caller carries on, the
    unit can no longer commit (:class:`PartFailed`); the idempotency layer stores nothing then.
    ``savepoint=True`` is for a part that may fail and be tried again (a unique-key race): when
    joined, it runs in a SAVEPOINT, so its failure leaves the outer transaction usable.
    """
    session = db.session()
    unit = session.info.get(_UNIT)
    if unit is None:
        unit = session.info[_UNIT] = _Unit()
        try:
            _begin(session)
            yield session
            if unit.failed:
                raise PartFailed("a part of this transaction failed; nothing was committed")
            for step in _BEFORE_COMMIT:
                step(session)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            session.info.pop(_UNIT, None)
    elif savepoint:
        with session.begin_nested():
            yield session
    else:
        try:
            yield session
            session.flush()  # a constraint error surfaces in the part that caused it
        except BaseException:
            unit.failed = True
            raise


def abandon() -> None:
    """Undo everything the current transaction wrote, e.g. before a page shows a refusal.

    Inside a joined unit (the idempotency layer's), the unit is then marked failed, so nothing
    of it is stored. Outside any ``write()`` it just ends the read transaction.
    """
    session = db.session()
    unit = session.info.get(_UNIT)
    if unit is not None:
        unit.failed = True
    session.rollback()


def unit_failed() -> bool:
    """Whether a part of the open ``write()`` raised (its caller may have caught it)."""
    unit = db.session().info.get(_UNIT)
    return unit is not None and unit.failed


def end_read() -> None:
    """End a read-only transaction (a request's token check, a relay's poll) without writing."""
    session = db.session()
    if _UNIT not in session.info and session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("changes were made to the session outside copa.db.write()")
        session.commit()  # nothing to write: keeps the loaded objects, unlike a rollback


@contextmanager
def snapshot() -> Iterator[Session]:
    """Read in one consistent snapshot (REPEATABLE READ on PostgreSQL) and write nothing."""
    session = db.session()
    end_read()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, sa.Engine):
        # (Bound to a Connection, the caller's transaction is already running: the tests.)
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        yield session
    finally:
        session.rollback()  # ends the snapshot; the connection gets its usual isolation back


def before_commit(step: Callable[[Session], None]) -> None:
    """Have every outermost ``write()`` run ``step`` on its session just before it commits."""
    if step not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(step)


# --- changes the ORM does not see --------------------------------------------------------

_BULK_CHANGES = "copa.db.bulk_changes"


@dataclass(frozen=True)
class BulkChange:
    """A row that a bulk UPDATE changed: its values before and after (the columns read)."""

    model: type
    before: Mapping[str, Any]
    after: Mapping[str, Any]


def bulk_changed(model: type, before: object, changes: Mapping[str, Any]) -> None:
    """Note that a bulk UPDATE (which no flush sees) set ``changes`` on a row of ``model``.

    ``before`` is the row as it was: a mapped object not yet refreshed, or a Row of its columns
    (``UPDATE ... RETURNING``). Its values are copied now, so refreshing the object afterwards
    changes nothing. The steps that run before the commit (the metrics rollups) take the notes
    with :func:`take_bulk_changes`; a rollback drops them.
    """
    if isinstance(before, sa.Row):
        values = dict(before._mapping)
    else:
        mapper = sa.inspect(before).mapper
        values = {attr.key: getattr(before, attr.key) for attr in mapper.column_attrs}
    note = BulkChange(model, values, {**values, **changes})
    db.session().info.setdefault(_BULK_CHANGES, []).append(note)


def take_bulk_changes(session: Session) -> list[BulkChange]:
    """The bulk changes noted in ``session`` since the last take (and forget them)."""
    return session.info.pop(_BULK_CHANGES, [])


def _begin(session: Session) -> None:
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("changes were made to the session outside copa.db.write()")
        session.commit()  # a read-only transaction (the token check): nothing to write
    session.connection(execution_options={"sqlite_immediate": True})


def insert_for(model: type, session: Session | None = None) -> sa.Insert:
    """An INSERT that knows ON CONFLICT on the current database (SQLite and PostgreSQL both do)."""
    return dialect_insert(model, (session or db.session).get_bind().dialect.name)


def dialect_insert(model: type, dialect: str) -> sa.Insert:
    """``insert_for`` by dialect name, for statements built once and kept."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def scrub_deleted(
    tables: Iterable[str], *, patience_ms: int | None = None, full: bool = False
) -> bool:
    """After a commit that deleted personal data, leave no old copy of it in the database's files.

    SQLite (``secure_delete`` has zeroed the rows in the database file): a TRUNCATE checkpoint
    copies the newest pages into the file and empties the -wal file, which held the pages as
    they were. PostgreSQL: VACUUM of ``tables`` (it cannot run in a transaction: an autocommit
    connection of its own) reclaims the dead row versions that still hold the old values.
    ``full`` rewrites instead (SQLite: VACUUM of the whole file; PostgreSQL: VACUUM FULL, which
    locks each table while it is copied), so no page keeps the old bytes as free space.
    ``patience_ms`` bounds the wait for other connections, so a request does not hang on it.
    Returns False when it could not finish; the next ``flask copa purge`` does it again.
    """
    bind = db.session.get_bind()
    if isinstance(bind, sa.Connection):
        # The session works inside its caller's transaction (the test suite's), so nothing
        # is committed yet and nothing can be scrubbed.
        return True
    if bind.dialect.name == "sqlite":
        return _checkpoint_sqlite(bind, patience_ms, full)
    if bind.dialect.name == "postgresql":
        return _vacuum_postgresql(bind, tables, patience_ms, full)
    return True


def _checkpoint_sqlite(engine: Engine, patience_ms: int | None, full: bool) -> bool:
    import sqlite3

    raw = engine.raw_connection()  # autocommit (isolation_level None): no BEGIN around it
    try:
        cursor = raw.cursor()
        usual = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        if patience_ms is not None:
            cursor.execute(f"PRAGMA busy_timeout={int(patience_ms)}")
        try:
            if full:
                cursor.execute("VACUUM")
            busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:
            log.warning("scrubbing the database file did not finish", exc_info=True)
            busy = 1
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(usual)}")
            cursor.close()
    finally:
        raw.close()
    if busy:
        log.warning(
            "WAL checkpoint incomplete (other connections busy): the -wal file may "
            "still hold deleted rows until the next purge"
        )
    return not busy


def _vacuum_postgresql(
    engine: Engine, tables: Iterable[str], patience_ms: int | None, full: bool
) -> bool:
    quote = engine.dialect.identifier_preparer.quote
    vacuum = "VACUUM (FULL)" if full else "VACUUM"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if patience_ms is not None:
            conn.exec_driver_sql(f"SET lock_timeout = {int(patience_ms)}")
        try:
            for table in tables:
                conn.exec_driver_sql(f"{vacuum} {quote(table)}")
        except sa.exc.OperationalError:
            log.warning("VACUUM after deleting personal data did not finish", exc_info=True)
            return False
        finally:
            if patience_ms is not None:
                conn.exec_driver_sql("RESET lock_timeout")
    return True
