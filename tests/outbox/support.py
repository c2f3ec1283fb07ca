"""Local partners for the relay tests: HTTP receivers on 127.0.0.1 and referral builders.

Nothing here listens anywhere but the loopback interface, and every server thread is bounded.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa

from copa.catalog.models import Category
from copa.catalog.service import ensure_seed_categories
from copa.db import db, write
from copa.outbox.models import DeliveryAttempt, OutboxMessage
from copa.references import next_reference
from copa.reports.models import Report, ReportStatus
from copa.routing.models import Partner, Referral
from copa.routing.service import enqueue_referral

# The production schedule's shape (ten attempts), in milliseconds.
FAST_SCHEDULE = [0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009]
# Ten attempts too, but an hour apart: a test sees exactly one attempt per run of the relay.
SLOW_SCHEDULE = [0] + [3600] * 9
FAST_TIMEOUT = 0.3  # seconds; a receiver that "times out" sleeps longer than this


def use_fast_relay(monkeypatch, app, **overrides) -> None:
    """Relay settings for tests: a schedule in milliseconds, short timeouts, loopback allowed."""
    settings = {
        "RELAY_RETRY_SCHEDULE": FAST_SCHEDULE,
        "RELAY_JITTER": 0.1,
        "RELAY_POLL_SECONDS": 0.01,
        "HTTP_TIMEOUT_SECONDS": FAST_TIMEOUT,
        "ALLOW_LOOPBACK_TARGETS": True,
        **overrides,
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int = 0  # the relay's end of the TCP connection: one per connection


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


class Receiver:
    """An HTTP server on 127.0.0.1 in a background thread; ``respond`` decides each answer.

    ``connection``: "close" says so and hangs up after each answer; "keep-alive" keeps the
    connection open for the next request; "drop" hangs up after each answer without saying so,
    as a server whose idle timeout closed a kept-alive connection does.
    """

    def __init__(
        self, respond: Callable[[Received], Reply] | None = None, *, connection: str = "close"
    ) -> None:
        self.respond = respond or (lambda request: Reply(200))
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                    self.client_address[1],
                )
                with receiver.lock:
                    receiver.received.append(request)
                reply = receiver.respond(request)
                body = reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                if connection == "close":
                    self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):  # the relay may hang up first: fine
                    for chunk in [body] if isinstance(body, bytes) else body:
                        self.wfile.write(chunk)
                self.close_connection = connection != "keep-alive" or not isinstance(body, bytes)

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a relay that gave up mid-answer is part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def make_partner(**settings) -> Partner:
    """A partner organisation with the given channel settings (committed)."""
    with write():
        code = f"partner-{uuid.uuid4().hex[:8]}"
        partner = Partner(code=code, name=f"Partner {code}", kind="council", **settings)
        db.session.add(partner)
    return partner


def make_referrals(
    partner: Partner,
    count: int = 1,
    *,
    category: str = "fly_tipping",
    description: str = "Fridge and mattress dumped by the bins",
    answers: dict | None = None,
    **report_fields,
) -> list[Referral]:
    """Reports referred to ``partner``, each with its outbox message, committed together as a
    submission would be."""
    ensure_seed_categories()
    with write():
        category_row = db.session.scalar(sa.select(Category).where(Category.code == category))
        lat, lon = report_fields.pop("lat", 54.5762), report_fields.pop("lon", -1.2348)
        referrals = []
        for n in range(count):
            report = Report(
                id=uuid.uuid4(),
                reference=next_reference(),
                category=category_row,
                description=description if count == 1 else f"{description} ({n})",
                lat=lat,
                lon=lon,
                answers=answers or {},
                status=ReportStatus.ROUTED,
                destination_kind=partner.kind,
                destination_name=partner.name,
                **report_fields,
            )
            referral = Referral(id=uuid.uuid4(), report=report, partner=partner)
            db.session.add_all([report, referral])
            enqueue_referral(referral)
            referrals.append(referral)
    return referrals


def messages_of(partner_id: uuid.UUID) -> list[OutboxMessage]:
    db.session.close()
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.partner_id == partner_id)
            .order_by(OutboxMessage.created_at)
        )
    )


def attempts_of(message_id: uuid.UUID) -> list[DeliveryAttempt]:
    return list(
        db.session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.attempted_at)
        )
    )


def relay_until_settled(timeout: float = 60) -> None:
    """Run the relay (``--once``) again and again until no message is pending, as a relay left
    running would; the schedule is in milliseconds, so retries fall due almost at once."""
    import time

    from copa.outbox.models import MessageState
    from copa.relay.service import run_relay

    deadline = time.monotonic() + timeout
    while True:
        run_relay(once=True, owner="test-relay")
        db.session.close()
        pending = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state == MessageState.PENDING)
        )
        if not pending:
            return
        assert time.monotonic() < deadline, f"{pending} messages still pending"
        time.sleep(0.005)
