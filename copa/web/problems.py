"""RFC 9457 problem details: the one shape every error leaves the service in.

Domain code raises a ``Problem`` subclass (or Werkzeug's HTTP exceptions); the handlers here
turn everything, including the JWT and rate-limit libraries' errors and unhandled exceptions,
into ``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``, keeping
the headers the status needs (``Allow``, ``Retry-After``, ``WWW-Authenticate``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from copa.web.ratelimit import limiter
from copa.web.redaction import redact

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://copa.example/problems/"

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error a caller can act on. Subclasses fix the status and type."""

    status: int = 400
    type: str = "about:blank"
    title: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: object,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers or {})
        self.extensions = extensions

    def to_response(self) -> Response:
        return problem(
            self.status,
            detail=self.detail,
            type=self.type,
            title=self.title,
            errors=self.errors,
            headers=self.headers,
            **self.extensions,
        )


def problem_type(slug: str) -> str:
    return TYPE_BASE + slug


class NotFound(Problem):
    status = 404
    title = "Not Found"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: object) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="copa"'}, **kwargs)


class Conflict(Problem):
    status = 409
    title = "Conflict"


class Unprocessable(Problem):
    status = 422
    title = "Unprocessable Content"
    type = problem_type("validation")


class ServiceUnavailable(Problem):
    status = 503
    title = "Service Unavailable"


def problem(
    status: int,
    *,
    detail: str | None = None,
    type: str | None = None,  # noqa: A002 - the RFC's member name
    title: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: object,
) -> Response:
    """Build a problem+json response."""
    body: dict[str, object] = {
        "type": type or "about:blank",
        "title": title or _reason(status),
        "status": status,
        "detail": detail or _reason(status),
    }
    if errors:
        body["errors"] = errors
    if request:
        body["instance"] = request.path
    body.update({k: v for k, v in extensions.items() if v is not None})
    response = Response(json.dumps(body, default=str), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# RFC 9110's names where Python's http module still has RFC 7231's.
_REASONS = {413: "Content Too Large", 422: "Unprocessable Content"}


def _reason(status: int) -> str:
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_from_http_exception(error: HTTPException) -> Response:
    """Werkzeug/flask-smorest/webargs/Flask-Limiter errors, headers kept."""
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    errors = None
    detail = error.description
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages:
        errors = flatten_messages(messages)
        if status == 400:
            detail = "The request body is not valid JSON."
        else:
            detail = "The request has invalid fields: " + ", ".join(sorted(errors)) + "."
    if status == 405:
        detail = f"{request.method} is not allowed here."
    if status == 415:
        detail = "Send the request body as application/json."
    if status == 413:
        detail = "The request body is larger than this endpoint accepts."
    if status == 429:
        detail = f"Too many requests: the limit is {error.description}. Try again later."
        headers.setdefault("Retry-After", str(_retry_after()))
    if status >= 500:
        detail = "Something went wrong on our side. It has been logged; try again later."
    ptype = problem_type("validation") if status == 422 else "about:blank"
    return problem(status, detail=detail, errors=errors, headers=headers, type=ptype)


def _retry_after() -> int:
    try:
        reset_at = limiter.current_limit.reset_at  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - no limit context: a safe default
        return 60
    import time

    return max(1, int(reset_at - time.time()) + 1)


def flatten_messages(messages: Mapping[str, object], prefix: str = "") -> dict[str, list[str]]:
    """webargs' ``{location: {field: [msg]}}`` as ``{"field.sub": [msg]}``.

    The location level (json, query, form, files, path) is dropped: the field name is what
    a client needs.
    """
    out: dict[str, list[str]] = {}

    def walk(node: object, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            out.setdefault(path or "_body", []).extend(node)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)
        else:
            out.setdefault(path or "_body", []).append(str(node))

    locations = {"json", "query", "querystring", "form", "files", "headers", "path", "view_args"}
    for key, value in messages.items():
        if key in locations:
            walk(value, prefix)
        else:
            walk({key: value}, prefix)
    return out


def handle_problem(error: Problem) -> Response:
    return error.to_response()


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return problem_from_http_exception(error)
    # The route's rule, not the path: a path may hold a token (/v1/unsubscribe/<token>).
    where = request.url_rule.rule if request.url_rule else redact(request.path)
    current_app.logger.exception("unhandled error on %s %s", request.method, where)
    return problem(
        500, detail="Something went wrong on our side. It has been logged; try again later."
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, problem_from_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
