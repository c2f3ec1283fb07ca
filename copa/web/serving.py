"""gunicorn's side of the service (read by ``gunicorn.conf.py``).

gunicorn answers some requests itself, before the application sees them: a request line or
header over its limits, too many headers, a malformed request. Its answers are an HTML page
that echoes what it could not parse; ``write_problem`` answers them as problem+json instead,
with a fixed detail. ``RedactingLogger`` keeps credentials out of gunicorn's access and error
logs (the access log writes each request line, query string included).
"""

from __future__ import annotations

import json
import os

from gunicorn import util
from gunicorn.glogging import Logger

from copa.config import DEFAULTS, settings_from_environment
from copa.web.logs import formatter, request_id_context
from copa.web.redaction import REDACTED, redact

PROBLEM_JSON = "application/problem+json"

_DETAIL = {
    400: "The request is malformed: its request line or a header could not be read.",
    403: "The request is forbidden.",
    414: "The request line (method, path and query string) is longer than this server accepts.",
    417: "The Expect header is not supported.",
    431: "The request has too many header fields, or one of them is longer than this server "
    "accepts.",
    500: "Something went wrong on our side. It has been logged; try again later.",
    501: "The request's transfer coding is not supported.",
}


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering problem+json.

    ``mesg`` (gunicorn's text, which may quote the request) is not sent: the detail is fixed
    per status, so nothing of the request is echoed.
    """
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status_int,
            "detail": _DETAIL.get(status_int, reason),
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def answer_server_errors_as_problems() -> None:
    """Make the worker's own error answers problem+json (call it in the worker process).

    gunicorn has no setting or hook for these answers: every worker class writes them through
    ``gunicorn.util.write_error``, which this replaces.
    """
    util.write_error = write_problem


class RedactingLogger(Logger):
    """gunicorn's logger with credentials redacted from the access and error logs.

    The request line, path, query string, referrer and any environ or header value an access
    log format may name go through ``copa.web.redaction.redact``; Authorization and Cookie
    values are never written.
    """

    _SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{set-cookie}o")

    def setup(self, cfg):
        super().setup(cfg)
        log_format = settings_from_environment(os.environ).get("LOG_FORMAT", DEFAULTS["LOG_FORMAT"])
        if log_format == "json":  # text keeps gunicorn's own formats
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(formatter("json"))

    def access(self, resp, req, environ, request_time):
        # The access line carries the id the application answered with (X-Request-ID).
        request_id = next(
            (value for name, value in resp.headers if name.lower() == "x-request-id"), None
        )
        with request_id_context(request_id):
            super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = redact(value)
        for name in self._SECRET_HEADERS:
            if name in atoms:
                atoms[name] = REDACTED
        return atoms

    def critical(self, msg, *args, **kwargs):
        super().critical(*_redacted(msg, args), **kwargs)

    def error(self, msg, *args, **kwargs):
        super().error(*_redacted(msg, args), **kwargs)

    def warning(self, msg, *args, **kwargs):
        super().warning(*_redacted(msg, args), **kwargs)

    def info(self, msg, *args, **kwargs):
        super().info(*_redacted(msg, args), **kwargs)

    def debug(self, msg, *args, **kwargs):
        super().debug(*_redacted(msg, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(*_redacted(msg, args), **kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        super().log(lvl, *_redacted(msg, args), **kwargs)


def _redacted(msg, args) -> tuple:
    text = str(msg) % args if args else str(msg)
    return (redact(text),)  # no args: logging does not %-format it again


def forget_worker_metrics(pid: int) -> None:
    """gunicorn's ``child_exit``: a dead worker's live gauges leave the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
