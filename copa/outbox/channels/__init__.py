"""What every channel shares: the request and outcome types, the settings they read, how an HTTP
answer becomes an outcome, and the registries through which features above the outbox plug in.

The channels themselves live with what they carry: the referral channels to partners (webhook,
Open311, email) in the relay (copa/relay), the resident channels (push, email) in
notifications; the transports they send through (http, push_transport, fcm, apns, email) here.

Each channel has two halves. ``prepare`` runs inside the relay's short database transaction and
turns a message into a plain request (every value the send needs, read from the referral and
report as they are now); ``send`` runs with no transaction open, does the network call and
returns an ``Outcome``. ``send`` never raises for anything the partner or the network does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app

from copa.outbox.channels.http import Connections, HttpAnswer
from copa.outbox.ssrf import loopback_allowed
from copa.settings import settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from copa.outbox.models import OutboxMessage

MAX_RETRY_AFTER_SECONDS = 24 * 3600


class Result(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"  # try again later (or dead-letter when out of attempts)
    GONE = "gone"  # 410: the partner's endpoint is gone; disable it (a resident's push token)
    # Refused in a way no retry changes (our push credentials, our request): dead at once.
    REFUSED = "refused"


@dataclass(frozen=True)
class Outcome:
    result: Result
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the partner asked us to wait
    external_reference: str | None = None  # Open311 service_request_id
    token: str | None = None  # Open311: the request id is to be fetched from tokens/{token}
    # A resident channel: SHA-256 of the address sent to (a push token), so GONE forgets only
    # that one and not a newer one registered meanwhile. Never the address itself.
    recipient: str | None = None


class Request(Protocol):
    """A message made ready to send: plain data, no database objects."""

    def send(self, settings: Settings) -> Outcome: ...


class CannotSend(Exception):
    """The partner's settings cannot carry this message (no URL, no secret, no address)."""


@dataclass(frozen=True)
class Settings:
    """What the channels read from the configuration, read once per relay run."""

    timeout: float
    max_response_bytes: int
    allow_loopback: bool
    smtp_url: str | None
    mail_from: str
    mail_dir: Path
    public_base_url: str = ""  # COPA_PUBLIC_BASE_URL: links in emails are absolute
    # The relay's kept-alive partner connections; None: one connection per request.
    connections: Connections | None = field(default=None, compare=False)

    @classmethod
    def from_app(cls) -> Settings:
        config = settings()
        return cls(
            timeout=config.http_timeout_seconds,
            max_response_bytes=config.http_max_response_bytes,
            allow_loopback=loopback_allowed(),
            smtp_url=config.smtp_url or None,
            mail_from=config.mail_from,
            mail_dir=Path(config.mail_dir or Path(current_app.instance_path) / "mail"),
            public_base_url=config.public_base_url.rstrip("/"),
        )


def answer_outcome(answer: HttpAnswer) -> Outcome:
    """The outcome of an HTTP answer: only 2xx is success, 410 is gone, anything else fails."""
    if 200 <= answer.status < 300:
        return Outcome(Result.DELIVERED, answer.status, error=answer.note)
    if answer.status == 410:
        return Outcome(Result.GONE, 410, error="410 Gone: the endpoint is disabled")
    if 300 <= answer.status < 400:
        error = f"{answer.status}: redirect not followed"
        if answer.headers.get("location"):
            error += f" (Location: {answer.headers['location'][:200]})"
    else:
        error = f"{answer.status}: " + _snippet(answer.body)
    return Outcome(
        Result.FAILED,
        answer.status,
        error=error,
        retry_after=retry_after_seconds(answer.headers.get("retry-after")),
    )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now (delay-seconds or an HTTP date), capped at 24 h."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _snippet(body: bytes) -> str:
    text = body[:300].decode("utf-8", "replace")
    return " ".join(text.split()) or "(empty body)"


# Channels to residents (push, email) are registered by the notifications feature, which sits
# above the outbox: the relay looks a message's channel up here and never imports it.
RESIDENT_CHANNELS: dict[str, Callable[[OutboxMessage, Settings], Request]] = {}
RESIDENT_GONE: dict[str, Callable[[OutboxMessage, Outcome], None]] = {}


def register_resident_channel(
    name: str,
    prepare: Callable[[OutboxMessage, Settings], Request],
    gone: Callable[[OutboxMessage, Outcome], None] | None = None,
) -> None:
    """Make ``prepare`` build the request of every message to a resident over ``name``;
    ``gone`` runs in the relay's transaction when the address answered that it is gone."""
    RESIDENT_CHANNELS[name] = prepare
    if gone is not None:
        RESIDENT_GONE[name] = gone


def resident_gone(message: OutboxMessage, outcome: Outcome) -> None:
    """The resident's address (a push token) is gone: let its channel forget it (no commit)."""
    forget = RESIDENT_GONE.get(message.channel)
    if forget is not None:
        forget(message, outcome)


# Who is told when a referral's message is dead-lettered (the notifications feature tells the
# resident), registered from above in the same way: name -> what to call with the referral's
# report (a copa.reports Report: reports sit above the outbox, hence Any here).
UNDELIVERED_REFERRAL: dict[str, Callable[[Any], None]] = {}


def on_undelivered_referral(name: str, tell: Callable[[Any], None]) -> None:
    """Call ``tell(report)`` in the relay's transaction when a referral of the report will not
    reach its partner (its message is dead); registering the same name again replaces it."""
    UNDELIVERED_REFERRAL[name] = tell
