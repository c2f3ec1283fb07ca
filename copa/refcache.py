"""Per-process caches of reference data (categories, routing rules and their partners,
signposts, local authorities) that an admin's change reaches in every process on its very next
request.

Any change to a watched table made through a session (ORM objects, or a Core ``insert``,
``update`` or ``delete`` run by ``session.execute``) gives that table's row in
``reference_version`` a new random token in the same transaction. A cache keeps what it loaded
with the tokens of its tables, read before loading; a request reads the tokens once (one small
query in its own transaction) and a cache holding other tokens loads again. A category change
does not drop the ward index. A random token, not a counter: a change rolled back must not leave
a cache that saw it believing that a later, different change is the one it saw. Writing to a
watched table on a bare connection (not a session) is not seen: do not.

What a cache holds is detached from every session and shared by threads: read it, never change
it. ``attach`` gives a request its own copy of a cached ORM object (``Session.merge`` with
``load=False``: no query) to link to the rows it writes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from copa.db import db

T = TypeVar("T")
M = TypeVar("M")

_EXTENSION = "copa_reference_caches"
_TOKEN = "_copa_reference_token"
_WATCHED: set[str] = set()  # the names of the tables whose changes change the token


class ReferenceVersion(db.Model):
    """A watched table's token, new with every change to the table."""

    __tablename__ = "reference_version"

    table_name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))


_READ_TOKENS = sa.select(ReferenceVersion.table_name, ReferenceVersion.token)


def new_token() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class _Entry:
    tokens: tuple[str | None, ...]
    value: Any


class ReferenceCache(Generic[T]):
    """What ``load(session)`` returns, kept per application until a watched table changes.

    ``load`` runs on a session of its own sharing the request's connection and transaction, so
    it sees what the request sees and what it returns is detached (attributes loaded, nothing
    expired, nothing lazy that was not loaded).
    """

    def __init__(self, name: str, load: Callable[[Session], T], *models: type) -> None:
        self.name = name
        self._load = load
        self._tables = tuple(model.__tablename__ for model in models)
        _WATCHED.update(self._tables)

    def get(self) -> T:
        tokens = current_tokens()
        mine = tuple(tokens.get(table) for table in self._tables)
        caches = current_app.extensions.setdefault(_EXTENSION, {})
        entry: _Entry | None = caches.get(self.name)
        if entry is not None and None not in mine and entry.tokens == mine:
            return entry.value
        with Session(bind=db.session.connection(), expire_on_commit=False) as loader:
            value = self._load(loader)
        # Kept only when each of its tables has a token (the migration gives every watched
        # table one): without, nothing would ever tell this cache to load again.
        if None not in mine:
            caches[self.name] = _Entry(mine, value)  # one assignment: safe between threads
        return value


def attach(obj: M) -> M:
    """The request session's own copy of a cached ORM object, without a query."""
    return db.session.merge(obj, load=False)


def current_tokens() -> dict[str, str]:
    """The watched tables' tokens as this request sees them (read once per request)."""
    if has_request_context() and _TOKEN in g:
        return g.get(_TOKEN)
    tokens = {name: token for name, token in db.session.execute(_READ_TOKENS)}
    if has_request_context():
        setattr(g, _TOKEN, tokens)
    return tokens


def _bump(session: Session, tables: set[str]) -> None:
    for table in sorted(tables):  # one order: concurrent changes cannot deadlock
        token = new_token()
        updated = session.execute(
            sa.update(ReferenceVersion)
            .where(ReferenceVersion.table_name == table)
            .values(token=token)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount == 0:  # a table watched since the last migration that added rows
            session.execute(sa.insert(ReferenceVersion).values(table_name=table, token=token))
    if has_request_context():
        g.pop(_TOKEN, None)  # this request reads its own change from now on


def _after_flush(session: Session, flush_context: Any) -> None:
    changed = {_table_name(type(obj)) for obj in (*session.new, *session.dirty, *session.deleted)}
    if changed & _WATCHED:
        _bump(session, changed & _WATCHED)


def _do_orm_execute(state: Any) -> None:
    """A Core insert, update or delete of a watched table run through a session."""
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(state.statement, "table", None), "name", None)
        if name in _WATCHED:
            _bump(state.session, {name})


def _table_name(model: type) -> str | None:
    table = getattr(model, "__table__", None)
    return getattr(table, "name", None)


def install() -> None:
    """Watch every session for changes to reference data."""
    if event.contains(Session, "after_flush", _after_flush):
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
