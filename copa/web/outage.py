"""A database that cannot be reached is a 503 with ``Retry-After``, never a 500.

The residents' app keeps unsent reports in an offline queue and retries on 503 (CONTRACTS.md);
a 500 would tell it the request itself is at fault. Whatever layer meets the outage (the token
check, the idempotency key, the view), the error reaches ``handle_database_error``, which
answers without touching the database again and logs one line for the operator: no traceback
(nothing is wrong with the code) and nothing about the caller.

"Cannot be reached" means: no connection (refused, timed out, dropped, the server shutting
down or not yet accepting connections, too many clients, the pool exhausted) and, on SQLite,
the file locked past the busy timeout or impossible to open. Any other database error is a bug
and stays a logged 500.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from flask import Flask, Response, current_app, has_app_context, request

from copa.settings import settings
from copa.web.problems import ServiceUnavailable, handle_unexpected, problem_type

DETAIL = "The database cannot be reached. Try again shortly."

# PostgreSQL SQLSTATEs that mean "no usable connection", not "your statement failed":
# class 08 (connection exception), the server shutting down or starting, and no free slot.
_PG_STATES = ("57P01", "57P02", "57P03", "53300")
# SQLite primary result codes: BUSY and LOCKED (past the busy timeout), CANTOPEN.
_SQLITE_CODES = (5, 6, 14)


class DatabaseUnreachable(ServiceUnavailable):
    type = problem_type("database-unreachable")

    def __init__(self, detail: str = DETAIL, **kwargs: object) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds())}, **kwargs)


def retry_after_seconds() -> int:
    """COPA_DATABASE_RETRY_AFTER_SECONDS: how long clients are asked to wait during an outage."""
    seconds = settings().database_retry_after_seconds if has_app_context() else 5
    return max(1, seconds)


def is_outage(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) means the database cannot be reached right now."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _means_unreachable(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _means_unreachable(error: BaseException) -> bool:
    if isinstance(error, sa.exc.DisconnectionError | sa.exc.TimeoutError):
        return True  # TimeoutError: no pooled connection came free in time
    if isinstance(error, sa.exc.DBAPIError):
        return bool(error.connection_invalidated) or _driver_means_unreachable(error.orig)
    return _driver_means_unreachable(error)


def _driver_means_unreachable(error: BaseException | None) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_CODES
        text = str(error)
        return "database is locked" in text or "unable to open database file" in text
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs
        return False
    if isinstance(error, psycopg.InterfaceError):
        return True  # the connection is closed or lost
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        # No SQLSTATE: the failure happened below the protocol (refused, reset, timed out).
        return state is None or state.startswith("08") or state in _PG_STATES
    return False


def _what_failed(error: BaseException) -> str:
    """The driver's own words (first line only): addresses and states, never a statement or its
    parameters, which SQLAlchemy's message would include."""
    orig = getattr(error, "orig", None) or error
    first_line = (str(orig).strip().splitlines() or [""])[0][:200]
    return f"{type(orig).__name__}: {first_line}"


def handle_database_error(error: Exception) -> Response:
    """503 problem+json with Retry-After for an outage; anything else is the usual 500."""
    if not is_outage(error):
        return handle_unexpected(error)
    route = request.url_rule.rule if request.url_rule else "(no route)"
    current_app.logger.warning(
        "database unreachable, answered 503: %s %s (%s)", request.method, route, _what_failed(error)
    )
    return DatabaseUnreachable().to_response()


def register_error_handlers(app: Flask) -> None:
    """More specific than the catch-all ``Exception`` handler, so it is chosen first."""
    app.register_error_handler(sa.exc.SQLAlchemyError, handle_database_error)
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        pass
    else:
        app.register_error_handler(psycopg.Error, handle_database_error)
    app.register_error_handler(sqlite3.Error, handle_database_error)
