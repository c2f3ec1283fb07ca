"""Public, cacheable reads: a strong ETag, a max-age, and an empty 304 on If-None-Match."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_smorest import Blueprint

MAX_AGE = 300  # seconds a cache may keep a copy before revalidating


def _doc(max_age: int, vary: str | None) -> dict[str, Any]:
    headers = {
        "ETag": {
            "description": "Strong validator: a hash of this representation.",
            "schema": {"type": "string"},
        },
        "Cache-Control": {
            "description": f"public, max-age={max_age}",
            "schema": {"type": "string"},
        },
    }
    if vary:
        headers["Vary"] = {"description": vary, "schema": {"type": "string"}}
    return {
        "parameters": [
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "The ETag of a copy already held: 304 if it is still current.",
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            200: {"headers": copy.deepcopy(headers)},
            304: {
                "description": "Not Modified: the copy named in If-None-Match is current (no body).",
                "headers": copy.deepcopy(headers),
            },
        },
    }


def conditional(
    blp: Blueprint, *, max_age: int = MAX_AGE, vary: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the view's response a strong ETag and a public max-age (and ``Vary`` when the body
    depends on a request header); 304 on a matching If-None-Match."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = view(*args, **kwargs)
            response.cache_control.public = True
            response.cache_control.max_age = max_age
            if vary:
                response.vary.add(vary)
            response.add_etag()  # SHA-1 of the body: the same representation, the same tag
            # RFC 9110: If-None-Match uses the weak comparison; a 304 keeps ETag, Cache-Control.
            return response.make_conditional(request)

        return blp.doc(**_doc(max_age, vary))(wrapper)

    return decorator
