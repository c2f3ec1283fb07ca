"""Outbound HTTP for the relay: SSRF-checked, pinned to the checked address, bounded.

Built on the standard library's ``http.client`` rather than ``requests``/``urllib3`` (neither is
a runtime dependency; requests is a test extra) because it is what makes the guard exact: the
connection is opened to the address ``ssrf.resolve_target`` checked, never to a name resolved a
second time (DNS rebinding), while the Host header, the TLS server name (SNI) and certificate
verification still use the host name of the URL. It never follows redirects, a watchdog bounds
the whole exchange (a server dripping one byte a second cannot hold the relay), and no more
than ``max_bytes`` of an answer is ever read.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from copa.outbox import ssrf

USER_AGENT = "copa-relay/1"
_CHUNK = 16 * 1024


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # at most max_bytes
    note: str | None = None  # why the body is incomplete (over the size cap, too slow)


class HttpFailure(Exception):
    """No HTTP answer: refused target, connection error, timeout, broken response."""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: ssrf.Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address
        self.pinned: socket.socket | None = None  # kept after http.client hands it on

    def connect(self) -> None:
        self.sock = self.pinned = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: ssrf.Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address
        self.pinned: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            # The certificate is checked against the URL's host name, not the address.
            self.sock = self.pinned = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def tls_context() -> ssl.SSLContext:
    """How partners' certificates are verified: the system's trust store (tests replace this)."""
    return ssl.create_default_context()


def send(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    allow_loopback: bool,
    timeout: float,
    max_bytes: int,
) -> HttpAnswer:
    """One request, no redirects followed; raises HttpFailure when nothing usable came back."""
    try:
        target = ssrf.resolve_target(url, allow_loopback=allow_loopback)
    except ssrf.UnsafeTarget as error:
        raise HttpFailure(f"unsafe target: {error.message}") from error
    if target.scheme == "https":
        connection: _PinnedHTTPConnection | _PinnedHTTPSConnection = _PinnedHTTPSConnection(
            target, timeout, tls_context()
        )
    else:
        connection = _PinnedHTTPConnection(target, timeout)
    expired = threading.Event()

    def abort() -> None:  # the deadline passed: break whatever read or write is under way
        expired.set()
        # Not connection.sock: http.client drops that once the response owns the socket.
        sock = connection.pinned
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, abort)
    watchdog.daemon = True
    started = time.monotonic()
    watchdog.start()
    try:
        connection.request(
            method,
            target.path,
            body=body,
            headers={"User-Agent": USER_AGENT, "Connection": "close", **(headers or {})},
        )
        response = connection.getresponse()
    except (OSError, http.client.HTTPException, ValueError) as error:
        watchdog.cancel()
        connection.close()
        if expired.is_set() or isinstance(error, TimeoutError):
            raise HttpFailure(
                f"no answer within {timeout:g} s (gave up after {time.monotonic() - started:.2f} s)"
            ) from error
        raise HttpFailure(_describe(error)) from error
    # The status line is the answer. The body is read only as far as the cap and the deadline
    # allow: what a partner said it did with the message does not depend on the rest.
    chunks: list[bytes] = []
    received, note = 0, None
    try:
        while received <= max_bytes:
            chunk = response.read(min(_CHUNK, max_bytes + 1 - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        if expired.is_set():  # the watchdog closed the socket: reads end as if at EOF
            note = f"the answer's body did not arrive within {timeout:g} s"
        elif received > max_bytes:
            note = f"the answer was longer than the size cap ({max_bytes} bytes); the rest was not read"
        elif response.length:  # Content-Length promised more than came
            note = "the answer's body was cut short"
    except (OSError, http.client.HTTPException, ValueError) as error:
        note = (
            f"the answer's body did not arrive within {timeout:g} s"
            if expired.is_set() or isinstance(error, TimeoutError)
            else f"the answer's body was cut short ({_describe(error)})"
        )
    finally:
        watchdog.cancel()
        response.close()
        connection.close()
    return HttpAnswer(
        status=response.status,
        headers={k.lower(): v for k, v in response.getheaders()},
        body=b"".join(chunks)[:max_bytes],
        note=note,
    )


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
