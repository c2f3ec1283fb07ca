"""Rules every response follows, whichever route or library made it."""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_file

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


def private_file(path: Path, content_type: str) -> Response:
    """A stored file (a video, its poster) for the one caller allowed it, as ``private_image``,
    answering Range requests: phones' players fetch a video in pieces."""
    response = send_file(path, mimetype=content_type, conditional=True, etag=True, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


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
