"""Routes that take larger bodies than the service-wide cap (COPA_MAX_BODY_BYTES): a video.

``@body_limit(limit)`` on a view declares its own cap; the request hook that caps bodies reads
it before anything reads the body, so a declared oversize upload is refused unread and a chunked
one stops being read at the cap (Werkzeug's limited stream), whatever the service-wide cap is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request

LIMIT_ATTR = "copa_body_limit"


def body_limit(limit: Callable[[], int]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let the decorated view take bodies of up to ``limit()`` bytes."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, LIMIT_ATTR, limit)  # copied outwards by each functools.wraps
        return view

    return decorator


def declared_body_limit(app: Flask, request: Request) -> int | None:
    """The body cap the matched view declares, if it declares one."""
    view = app.view_functions.get(request.endpoint or "")
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, request.method.lower(), None) if view_class else view
    limit = getattr(handler, LIMIT_ATTR, None)
    return limit() if limit is not None else None
