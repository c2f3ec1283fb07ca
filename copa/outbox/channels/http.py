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
import heapq
import http.client
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
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
        self.sock = self.pinned = _connect(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: ssrf.Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address
        self.pinned: socket.socket | None = None

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)
        try:
            # The certificate is checked against the URL's host name, not the address.
            self.sock = self.pinned = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class Watchdog:
    """Calls each registered function at its deadline unless cancelled first: one thread for
    the whole process, where a ``threading.Timer`` per request would start a thread each time."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []  # a heap by deadline
        self._live: set[int] = set()  # watches neither cancelled nor called yet
        self._wake = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, call: Callable[[], None]) -> Watch:
        """Call ``call()`` at ``deadline`` (``time.monotonic()``) unless ``cancel`` comes first."""
        with self._wake:
            number = next(self._count)
            heapq.heappush(self._due, (deadline, number, call))
            self._live.add(number)
            if self._thread is None or not self._thread.is_alive():  # first use, or after fork
                self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()
        return Watch(self, number)

    def cancel(self, number: int) -> None:
        with self._wake:
            self._live.discard(number)

    def __len__(self) -> int:
        """Watches still waiting for their deadline."""
        with self._wake:
            return len(self._live)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][1] not in self._live:
                    heapq.heappop(self._due)  # cancelled: forget it
                if not self._due:
                    self._wake.wait()
                    continue
                deadline, number, call = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
                self._live.discard(number)
            try:
                call()
            except Exception:  # noqa: BLE001 - one bad call must not stop every other deadline
                logging.getLogger(__name__).exception("a watchdog call failed")


@dataclass(frozen=True)
class Watch:
    watchdog: Watchdog
    number: int

    def cancel(self) -> None:
        self.watchdog.cancel(self.number)


WATCHDOG = Watchdog()


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((address, port), timeout)
    # http.client writes the headers and the body separately: without this, on a kept-alive
    # connection the body waits for the partner's delayed ACK of the headers (Nagle), ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tls_context() -> ssl.SSLContext:
    """How partners' certificates are verified: the system's trust store (tests replace this)."""
    return ssl.create_default_context()


_Connection = _PinnedHTTPConnection | _PinnedHTTPSConnection
# A connection that was kept alive may have been closed by the server meanwhile: these, before
# any answer, mean "open a new one and send again" (receivers deduplicate on the message id).
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class Connections:
    """The kept-alive connections of one relay: at most one idle per host, port and address.

    A connection is keyed by the address the SSRF guard approved for this very send, so reusing
    one never bypasses the guard: when a host name comes to resolve elsewhere, the guard judges
    the new address and a new connection goes there. Not thread-safe: one per relay.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int, str], _Connection] = {}
        self._context: ssl.SSLContext | None = None

    def take(self, target: ssrf.Target, timeout: float) -> _Connection:
        """A connection to the target's checked address: a kept-alive one, or a new one."""
        idle = self._idle.pop(_key(target), None)
        if idle is not None:
            idle.timeout = timeout
            if idle.sock is not None:
                idle.sock.settimeout(timeout)
            return idle
        return self.new(target, timeout)

    def new(self, target: ssrf.Target, timeout: float) -> _Connection:
        if target.scheme == "https":
            if self._context is None:  # loading the trust store is costly: once per relay
                self._context = tls_context()
            return _PinnedHTTPSConnection(target, timeout, self._context)
        return _PinnedHTTPConnection(target, timeout)

    def give_back(self, target: ssrf.Target, connection: _Connection) -> None:
        old = self._idle.pop(_key(target), None)
        if old is not None:
            old.close()
        self._idle[_key(target)] = connection

    def close(self) -> None:
        for connection in self._idle.values():
            connection.close()
        self._idle.clear()

    def __len__(self) -> int:
        return len(self._idle)


def _key(target: ssrf.Target) -> tuple[str, str, int, str]:
    return (target.scheme, target.host.lower(), target.port, target.address)


def send(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    allow_loopback: bool,
    timeout: float,
    max_bytes: int,
    connections: Connections | None = None,
) -> HttpAnswer:
    """One request, no redirects followed; raises HttpFailure when nothing usable came back.

    With ``connections`` the connection is kept alive for the next request to the same checked
    address; without, it is closed after the answer.
    """
    try:
        target = ssrf.resolve_target(url, allow_loopback=allow_loopback)
    except ssrf.UnsafeTarget as error:
        raise HttpFailure(f"unsafe target: {error.message}") from error
    headers = {"User-Agent": USER_AGENT, **(headers or {})}
    if connections is None:
        headers.setdefault("Connection", "close")
        connection: _Connection = Connections().new(target, timeout)
        return _exchange(connection, method, target, body, headers, timeout, max_bytes)[0]
    started = time.monotonic()
    connection = connections.take(target, timeout)
    try:
        answer, reusable = _exchange(connection, method, target, body, headers, timeout, max_bytes)
    except _Stale:
        # Once more on a new connection, within what is left of the same deadline: a send
        # never takes longer than ``timeout`` (the relay's leases count on it).
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise HttpFailure(f"no answer within {timeout:g} s") from None
        connection = connections.new(target, left)
        answer, reusable = _exchange(connection, method, target, body, headers, left, max_bytes)
    if reusable:
        connections.give_back(target, connection)
    return answer


class _Stale(Exception):
    """A kept-alive connection was closed by the server before it answered."""


def _exchange(
    connection: _Connection,
    method: str,
    target: ssrf.Target,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
    max_bytes: int,
) -> tuple[HttpAnswer, bool]:
    """Send on ``connection`` and read the answer within ``timeout``; the answer, and whether the
    connection may carry another request (otherwise it is closed here)."""
    reused = connection.sock is not None
    expired = threading.Event()

    def abort() -> None:  # the deadline passed: break whatever read or write is under way
        expired.set()
        # Not connection.sock: http.client drops that once the response owns the socket.
        sock = connection.pinned
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    started = time.monotonic()
    watchdog = WATCHDOG.watch(started + timeout, abort)
    try:
        connection.request(method, target.path, body=body, headers=dict(headers))
        response = connection.getresponse()
    except (OSError, http.client.HTTPException, ValueError) as error:
        watchdog.cancel()
        connection.close()
        if reused and not expired.is_set() and isinstance(error, _STALE):
            raise _Stale from error
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
    # Only a connection whose answer was read to its end, in time, can carry the next request.
    reusable = note is None and not expired.is_set() and not response.will_close
    if not reusable:
        connection.close()
    answer = HttpAnswer(
        status=response.status,
        headers={k.lower(): v for k, v in response.getheaders()},
        body=b"".join(chunks)[:max_bytes],
        note=note,
    )
    return answer, reusable


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
