"""HTTP for the push channels (FCM, APNs): httpx, one client per service per relay process.

Unlike partner endpoints, these services are fixed by the operator's configuration, not typed in
by a partner, so no SSRF check applies; what stays the same is no redirects, a timeout and a cap
on how much of an answer is read. Clients are kept, so connections are reused: APNs asks for one
long-lived HTTP/2 connection rather than one per notification, and FCM's token endpoint and send
endpoint are each reached over one connection.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from copa.outbox.channels import http as outbound
from copa.outbox.channels.http import HttpAnswer, HttpFailure

# httpx logs every request line at INFO, and an APNs URL ends in the device token (which h2's
# header compression, hpack, logs at DEBUG): a push token must never reach a log.
for _name in ("httpx", "httpcore", "h2", "hpack"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_clients: dict[tuple, httpx.Client] = {}
_lock = threading.Lock()


def client(url: str, timeout: float, *, http1: bool = True) -> httpx.Client:
    """The kept client for the origin of ``url`` (HTTP/2 where the server offers it; with
    ``http1=False`` HTTP/2 only, as APNs requires)."""
    parts = urlsplit(url)
    context = outbound.tls_context  # how certificates are verified (tests replace it)
    key = (parts.scheme, parts.netloc, timeout, http1, context)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = httpx.Client(
                transport=httpx.HTTPTransport(
                    http1=http1,
                    http2=True,
                    verify=context(),
                    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
                    # algorithm and the server's delayed ACK add ~40 ms to every request.
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                ),
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
                headers={"User-Agent": outbound.USER_AGENT},
            )
            _clients[key] = found
    return found


def close_clients() -> None:
    """Close every kept client (tests, and a relay that stops)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for kept in clients:
        kept.close()


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    max_bytes: int,
    http1: bool = True,
    redact: str | None = None,
) -> HttpAnswer:
    """One POST; raises HttpFailure when no answer came (its text never contains ``redact``)."""
    try:
        with client(url, timeout, http1=http1).stream(
            "POST", url, content=body, headers=headers
        ) as response:
            chunks: list[bytes] = []
            received, note = 0, None
            for chunk in response.iter_raw():
                chunks.append(chunk)
                received += len(chunk)
                if received > max_bytes:
                    note = f"the answer was longer than the size cap ({max_bytes} bytes)"
                    break
            return HttpAnswer(
                status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=b"".join(chunks)[:max_bytes],
                note=note,
            )
    except httpx.HTTPError as error:
        text = f"{type(error).__name__}: {error}"[:500]
        if redact:
            text = text.replace(redact, "<token>")
        raise HttpFailure(text) from error
