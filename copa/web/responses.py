"""Rules every response follows, whichever route or library made it."""

from __future__ import annotations

from flask import Response

NO_CONTENT = 204


def private_image(data: bytes, content_type: str) -> Response:
    """A photo's bytes for the one caller allowed them: kept only in their own cache, never
    sniffed as another type, shown inline."""
    return Response(
        data,
        mimetype=content_type,
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


def no_content_is_empty(response: Response) -> Response:
    """A 204 carries no content, so no header describes any (RFC 9110 15.3.5, 8.3, 8.6).

    flask-smorest builds a 204 with ``jsonify(None)``: a ``null`` body (dropped by Werkzeug on
    the way out) labelled ``application/json``. Fixed here, once, for every route.
    """
    if response.status_code == NO_CONTENT:
        response.response = []
        for name in ("Content-Type", "Content-Length"):
            response.headers.pop(name, None)
    return response
