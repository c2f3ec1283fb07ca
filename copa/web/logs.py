"""Log lines as JSON, each carrying the id of the request (or relay send) it belongs to.

A request's id is the caller's ``X-Request-ID`` when it is a plausible id (1 to 128 letters,
digits and ``._:-``: what load balancers and gateways make), otherwise a new one; it is
returned in the response's ``X-Request-ID``, written into every log line of the request and into
the outbox messages the request creates (``copa.outbox.models``), and the relay logs it again
when it sends them. Outside a request (the relay, commands) ``request_id_context`` sets it.

The formatter is a small one on the standard library, not python-json-logger: it writes a
fixed set of fields (time, level, logger, message, request_id, exception) and never a record's
other attributes, so nothing passed in ``extra=`` can carry a resident's details into a line;
and it redacts credentials itself (``copa.web.redaction``), whichever filters its handler has.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, Response, g, has_app_context, has_request_context, request

from copa.web.redaction import redact

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a few separators: UUIDs, hex ids, ULIDs, "req-1234.5". Nothing that can
# break a log line or a header, and short enough to be an id rather than a message.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
REQUEST_LOGGER = "copa.request"
NO_ROUTE = "(no route)"  # a request no route matched (404, 405): its path is never shown

_request_id: ContextVar[str | None] = ContextVar("copa_request_id", default=None)


def accepted_request_id(offered: str | None) -> str:
    """The caller's id if it is a safe one, otherwise a new one (32 hex digits)."""
    if offered and _SAFE_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served, or the one ``request_id_context`` set, or None."""
    if has_request_context() and has_app_context():
        found = g.get("request_id")
        if found:
            return found
    return _request_id.get()


@contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Log lines written inside carry ``request_id`` (e.g. the relay sending a message that
    a request created)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id when
    there is one, and the exception's traceback when there is one, all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The human-readable line (``COPA_LOG_FORMAT=text``), with the request id when there is
    one."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s] %(levelname)s in %(module)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None) or current_request_id()
        return f"{line} [request {request_id}]" if request_id else line


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``COPA_LOG_FORMAT``: ``json`` (the default) or ``text``."""
    return TextFormatter() if log_format == "text" else JsonFormatter()


def _iso_time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def route_template() -> str:
    """The request's route as declared (``/v1/reports/<uuid:report_id>``), never its path,
    which may hold an id or a token; ``NO_ROUTE`` when no route matched (404, 405)."""
    return request.url_rule.rule if request.url_rule else NO_ROUTE


def init_request_ids(app: Flask) -> None:
    """Give every request an id and its start time (before any other hook runs, so even a
    refused request's log lines carry it; the request metrics time from it too), return it, and
    log one line per request: method, route template (never
    the path, which may hold a token), status and duration."""
    log = logging.getLogger(REQUEST_LOGGER)

    @app.before_request
    def _take_request_id() -> None:
        g.request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _return_request_id(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        if started is not None and log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %d in %d ms",
                request.method,
                route_template(),
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response
