"""Rules every response follows, whichever route or library made it."""

from __future__ import annotations

import io
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Protocol

from flask import Response, request, send_file
from werkzeug.wsgi import FileWrapper

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


class RemoteFile(Protocol):
    """A stored object a response can send (copa.objectstore.StoredObject)."""

    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str: ...

    @property
    def last_modified(self) -> datetime: ...

    def open(self, end: int | None = None) -> io.RawIOBase:
        """A seekable file over the object that fetches only up to ``end`` unless read on."""
        ...


MAX_AGE = 3600
_READ_SIZE = 64 * 1024


def private_file(source: Path | RemoteFile, content_type: str) -> Response:
    """A stored file (a video, its poster) for the one caller allowed it, as ``private_image``,
    answering Range requests: phones' players fetch a video in pieces. A file in an object
    store is answered the same way, each range fetched from the store as it is sent."""
    if isinstance(source, (str, os.PathLike)):
        response = send_file(
            source, mimetype=content_type, conditional=True, etag=True, max_age=MAX_AGE
        )
    else:
        response = _send_object(source, content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


def _send_object(source: RemoteFile, content_type: str) -> Response:
    """What ``send_file(conditional=True)`` does for a file, for an object: the same headers,
    304, 206 and 416 (Werkzeug's own ``make_conditional``); only the bytes sent are fetched."""
    end = source.size
    if request.range is not None:
        wanted = request.range.range_for_length(source.size)
        if wanted is not None:
            end = wanted[1]  # a hint: the reader fetches further if it is read further
    reader = source.open(end)
    response = Response(
        FileWrapper(reader, _READ_SIZE), mimetype=content_type, direct_passthrough=True
    )
    response.content_length = source.size
    response.last_modified = source.last_modified
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    response.expires = int(time.time() + MAX_AGE)
    response.set_etag(source.etag)
    return response.make_conditional(
        request.environ, accept_ranges=True, complete_length=source.size
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
