"""The outbox relay (``flask copa relay``): deliver due messages to partners, at least once.

The protocol, the same on both databases:

1. Claim: one short transaction picks up to ``RELAY_BATCH_SIZE`` pending messages that are due
   and not leased by a live relay (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
   relays claim side by side without waiting for each other; ``BEGIN IMMEDIATE`` on SQLite,
   where claims simply take turns), writes this relay's name and a lease expiry on them, and
   commits.
2. For each claimed message, a short transaction renews its lease (only if this relay still
   holds it), reads the partner, referral and report as they are now, and builds the request;
   it commits before the network call, so no transaction is ever open while a partner answers.
3. The outcome is written in a new short transaction, again only if this relay still holds the
   lease: a relay that lost it (it was stopped past its lease) overwrites nothing.

A relay killed at any moment loses nothing: its claimed messages stay pending, and once their
leases expire another relay (or the same one restarted) claims them. A message being delivered
when the relay died is delivered again; receivers deduplicate on its id (``webhook-id``).

Outcomes: 2xx delivers (the referral becomes ``delivered``; Open311 stores the partner's
request id); 410 disables the partner's endpoint and cancels the message (for a push to a
resident, GONE forgets the push token instead); REFUSED (push credentials refused) dead-letters
at once; anything else is tried again after the next step of ``RELAY_RETRY_SCHEDULE``
(lengthened by up to ``RELAY_JITTER``, and never sooner than a ``Retry-After`` asked, capped at
24 h), and after the last step the message is dead-lettered for staff. Every attempt is a
``DeliveryAttempt`` row.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from copa.db import begin_write, db, utcnow
from copa.outbox.channels import (
    RESIDENT_CHANNELS,
    UNDELIVERED_REFERRAL,
    CannotSend,
    Outcome,
    Request,
    Result,
    Settings,
    resident_gone,
)
from copa.outbox.channels import email as email_channel
from copa.outbox.channels import open311 as open311_channel
from copa.outbox.channels import webhook as webhook_channel
from copa.outbox.models import DeliveryAttempt, MessageState, OutboxMessage
from copa.routing.models import Channel, ReferralState

log = logging.getLogger(__name__)

# DeliveryAttempt.outcome values.
DELIVERED, RETRY, DEAD, CANCELLED = "delivered", "retry", "dead", "cancelled"
LEASE_LOST = "lease_lost"  # the attempt happened, but another relay holds the message now

_ENDPOINT_CHANNELS = frozenset({Channel.WEBHOOK, Channel.OPEN311})
WITHDRAWN_EVENT = "referral.withdrawn"  # staff re-routed the report: the partner may stop


@dataclass
class RelayStats:
    """What one run of the relay did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    cancelled: int = 0
    lost: int = 0  # leases another relay had taken over before the outcome was written

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}, delivered {self.delivered}, to retry {self.retried}, "
            f"dead {self.dead}, cancelled {self.cancelled}, leases lost {self.lost}"
        )


@dataclass(frozen=True)
class RelaySettings:
    schedule: tuple[float, ...]
    jitter: float
    lease: timedelta
    batch_size: int
    poll_seconds: float
    channels: Settings

    @classmethod
    def from_app(cls) -> RelaySettings:
        config = current_app.config
        channels = Settings.from_app()
        schedule = tuple(float(s) for s in config["RELAY_RETRY_SCHEDULE"])
        if not schedule or any(s < 0 for s in schedule):
            raise ValueError("RELAY_RETRY_SCHEDULE must be a non-empty list of seconds")
        # A lease must outlast one delivery (renewed before each): the whole-request timeout
        # and a margin, whatever was configured.
        lease = max(float(config["RELAY_LEASE_SECONDS"]), channels.timeout + 1.0)
        return cls(
            schedule=schedule,
            jitter=max(0.0, float(config["RELAY_JITTER"])),
            lease=timedelta(seconds=lease),
            batch_size=max(1, int(config["RELAY_BATCH_SIZE"])),
            poll_seconds=max(0.0, float(config["RELAY_POLL_SECONDS"])),
            channels=channels,
        )


def default_owner() -> str:
    """A name no other relay has: host, process id and a random part (at most 64 characters)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def run_relay(
    once: bool = False, owner: str | None = None, *, stop: threading.Event | None = None
) -> RelayStats:
    """Deliver due messages until ``stop`` is set; with ``once``, until none is due, then return."""
    relay = Relay(owner or default_owner(), RelaySettings.from_app())
    stop = stop or threading.Event()
    log.info("relay %s started", relay.owner)
    try:
        while not stop.is_set():
            try:
                claimed = relay.run_batch(stop)
            except SQLAlchemyError:
                db.session.rollback()
                if once:
                    raise
                log.exception("relay %s: database error; trying again shortly", relay.owner)
                claimed = 0
            if claimed == 0:
                if once:
                    break
                stop.wait(relay.settings.poll_seconds)
    finally:
        db.session.close()
    log.info("relay %s stopped: %s", relay.owner, relay.stats)
    return relay.stats


class Relay:
    def __init__(self, owner: str, settings: RelaySettings) -> None:
        if len(owner) > 64:
            raise ValueError("a relay owner name has at most 64 characters")
        self.owner = owner
        self.settings = settings
        self.stats = RelayStats()
        self._random = random.Random()

    # --- the protocol ---------------------------------------------------------------------

    def run_batch(self, stop: threading.Event | None = None) -> int:
        """Claim a batch and deliver it; how many messages were claimed."""
        claimed = self.claim()
        for position, message_id in enumerate(claimed):
            if stop is not None and stop.is_set():
                self.release(claimed[position:])
                break
            self.deliver(message_id)
        return len(claimed)

    def claim(self) -> list[uuid.UUID]:
        """Lease up to a batch of due messages to this relay (one transaction)."""
        db.session.close()
        begin_write()
        now = utcnow()  # after the lock: SQLite may have made us wait for it
        ids = list(
            db.session.scalars(
                sa.select(OutboxMessage.id)
                .where(
                    OutboxMessage.state == MessageState.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    sa.or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.settings.batch_size)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's lock is BEGIN IMMEDIATE
            )
        )
        if ids:
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(lease_owner=self.owner, lease_until=now + self.settings.lease)
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        self.stats.claimed += len(ids)
        return ids

    def release(self, ids: list[uuid.UUID]) -> None:
        """Give back claimed messages not yet tried (stopping), so others need not wait."""
        db.session.close()
        begin_write()
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == self.owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    def deliver(self, message_id: uuid.UUID) -> None:
        """One attempt at one claimed message: prepare, send (no transaction open), record."""
        attempted_at = utcnow()
        try:
            request = self._prepare(message_id)
        except SQLAlchemyError:
            raise
        except Exception as error:  # noqa: BLE001 - a bug must not stop the relay or loop
            db.session.rollback()
            log.exception("relay %s: could not prepare message %s", self.owner, message_id)
            self._record(
                message_id,
                Outcome(Result.FAILED, error=f"internal error: {type(error).__name__}"),
                attempted_at,
                0,
            )
            return
        if request is None:
            return
        started = time.monotonic()
        try:
            outcome = request.send(self.settings.channels)
        except Exception as error:  # noqa: BLE001 - channels return outcomes; this is a bug
            log.exception("relay %s: sending message %s failed", self.owner, message_id)
            outcome = Outcome(Result.FAILED, error=f"internal error: {type(error).__name__}")
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(message_id, outcome, attempted_at, duration_ms)

    # --- the transactions ---------------------------------------------------------------------

    def _held(self, message_id: uuid.UUID) -> OutboxMessage | None:
        """The message, locked, if this relay still holds its lease and it is still pending."""
        return db.session.scalar(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.lease_owner == self.owner,
                OutboxMessage.state == MessageState.PENDING,
            )
            .with_for_update()
        )

    def _prepare(self, message_id: uuid.UUID) -> Request | None:
        """Renew the lease and build the request; None when there is nothing to send."""
        db.session.close()  # nothing cached from an earlier transaction
        begin_write()
        message = self._held(message_id)
        if message is None:
            db.session.commit()
            self.stats.lost += 1
            return None
        reason = cancel_reason(message)
        request = None
        if reason is None:
            try:
                request = prepare(message, self.settings.channels)
            except CannotSend as error:
                reason = str(error)
        if reason is not None:
            self._cancel(message, reason)
            db.session.commit()
            return None
        message.lease_until = utcnow() + self.settings.lease
        db.session.commit()
        return request

    def _record(
        self, message_id: uuid.UUID, outcome: Outcome, attempted_at: datetime, duration_ms: int
    ) -> None:
        db.session.close()
        begin_write()
        message = self._held(message_id)
        if message is None:
            # Another relay took the message over (this one outlived its lease): the attempt
            # is a fact worth keeping, but the message is theirs to update now.
            log.warning("relay %s lost the lease of message %s", self.owner, message_id)
            self._attempt(message_id, attempted_at, duration_ms, outcome, LEASE_LOST)
            db.session.commit()
            self.stats.lost += 1
            return
        self._apply(message, outcome, attempted_at, duration_ms)
        db.session.commit()

    # --- outcomes -------------------------------------------------------------------------

    def _apply(
        self, message: OutboxMessage, outcome: Outcome, attempted_at: datetime, duration_ms: int
    ) -> None:
        now = utcnow()
        message.attempts += 1
        message.lease_owner, message.lease_until = None, None
        if outcome.result == Result.DELIVERED:
            message.state, message.delivered_at, message.last_error = (
                MessageState.DELIVERED,
                now,
                None,
            )
            self._mark_referral(message, outcome, now)
            label = DELIVERED
            self.stats.delivered += 1
        elif outcome.result == Result.GONE:
            message.state, message.last_error = MessageState.CANCELLED, outcome.error
            label = CANCELLED
            self.stats.cancelled += 1
            if message.partner_id is None:  # a resident's push token is no longer valid
                resident_gone(message, outcome)
                log.info("message %s cancelled: the resident's address is gone", message.id)
            else:
                partner = message.partner
                if partner.endpoint_disabled_at is None:
                    partner.endpoint_disabled_at = now
                log.warning("partner %s answered 410 Gone: endpoint disabled", partner.code)
        # REFUSED: no retry can succeed until someone fixes the credentials or the request.
        elif outcome.result == Result.REFUSED or message.attempts >= len(self.settings.schedule):
            message.state, message.last_error = MessageState.DEAD, outcome.error
            label = DEAD
            self.stats.dead += 1
            log.warning("message %s is dead after %d attempts", message.id, message.attempts)
            self._flag_undelivered(message)
        else:
            delay = self.delay(message.attempts, outcome.retry_after)
            message.next_attempt_at = now + timedelta(seconds=delay)
            message.last_error = outcome.error
            label = RETRY
            self.stats.retried += 1
        self._attempt(message.id, attempted_at, duration_ms, outcome, label)

    def _flag_undelivered(self, message: OutboxMessage) -> None:
        """A referral that will not reach its partner is not hidden: its report is flagged for
        staff, and the resident told, in this transaction."""
        referral = message.referral
        if (
            referral is None
            or referral.delivered_at is not None  # e.g. an Open311 token poll after delivery
            or message.event_type == WITHDRAWN_EVENT
            or referral.state in (ReferralState.WITHDRAWN, ReferralState.NOT_OUR_RESPONSIBILITY)
        ):
            return
        report = referral.report
        if not report.delivery_failed:
            report.delivery_failed = True
            for tell in UNDELIVERED_REFERRAL.values():  # e.g. the resident (notifications)
                tell(report)

    def _mark_referral(self, message: OutboxMessage, outcome: Outcome, now: datetime) -> None:
        referral = message.referral
        if referral is None:
            return
        if message.event_type != WITHDRAWN_EVENT and referral.state != ReferralState.WITHDRAWN:
            referral.report.delivery_failed = False  # a staff retry got it there
        if referral.state == ReferralState.SENT:  # never undo the partner's acknowledgement
            referral.state = ReferralState.DELIVERED
        # Delivering the notice of a withdrawal is not delivering the referral.
        if referral.delivered_at is None and message.event_type != WITHDRAWN_EVENT:
            referral.delivered_at = now
        if outcome.external_reference and not referral.external_reference:
            referral.external_reference = outcome.external_reference
        if outcome.token:
            db.session.add(
                OutboxMessage(
                    event_type=open311_channel.TOKEN_EVENT,
                    partner_id=message.partner_id,
                    referral_id=message.referral_id,
                    channel=Channel.OPEN311,
                    payload={**message.payload, "token": outcome.token},
                    next_attempt_at=now + timedelta(seconds=self.delay(1, None)),
                )
            )

    def _cancel(self, message: OutboxMessage, reason: str) -> None:
        message.state, message.last_error = MessageState.CANCELLED, reason
        message.lease_owner, message.lease_until = None, None
        self._attempt(message.id, utcnow(), 0, Outcome(Result.FAILED, error=reason), CANCELLED)
        self.stats.cancelled += 1
        log.info("message %s cancelled: %s", message.id, reason)

    def _attempt(
        self,
        message_id: uuid.UUID,
        attempted_at: datetime,
        duration_ms: int,
        outcome: Outcome,
        label: str,
    ) -> None:
        db.session.add(
            DeliveryAttempt(
                message_id=message_id,
                attempted_at=attempted_at,
                duration_ms=duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                outcome=label,
            )
        )

    def delay(self, position: int, retry_after: float | None) -> float:
        """Seconds before attempt number ``position`` (0-based): the schedule's step, lengthened
        by the jitter, and never shorter than what the partner asked for (capped at 24 h)."""
        steps = self.settings.schedule
        base = steps[min(position, len(steps) - 1)]
        delay = base * (1 + self._random.uniform(0, self.settings.jitter))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


def cancel_reason(message: OutboxMessage) -> str | None:
    """Why a message must not be sent at all, or None."""
    if message.partner_id is None:
        return None  # to a resident: its channel's prepare says CannotSend when it must not go
    partner = message.partner
    if not partner.active:
        return "the partner is inactive"
    if partner.channel == Channel.NONE:
        return "the partner has no delivery channel (it reads referrals through the partner API)"
    if message.event_type == open311_channel.TOKEN_EVENT and partner.channel != Channel.OPEN311:
        return "the partner no longer uses Open311"
    # A 410 disabled the endpoint; an email address is not an endpoint, so email still goes.
    if partner.channel in _ENDPOINT_CHANNELS and partner.endpoint_disabled_at is not None:
        return "the partner's endpoint is disabled (it answered 410 Gone)"
    referral = message.referral
    if message.referral_id is not None and referral is None:
        return "the referral no longer exists"
    withdrawal = message.event_type == WITHDRAWN_EVENT
    if withdrawal and partner.channel not in (Channel.WEBHOOK, Channel.EMAIL):
        return "the partner's channel has no way to withdraw a referral"
    # A withdrawn referral's own withdrawal notice still goes; nothing else to it does.
    if referral is not None and referral.state == ReferralState.WITHDRAWN and not withdrawal:
        return "the referral was withdrawn"
    return None


def prepare(message: OutboxMessage, settings: Settings) -> Request:
    """The request for a message over its partner's current channel; CannotSend if impossible."""
    if message.partner_id is None:  # a notification to a resident
        prepare_resident = RESIDENT_CHANNELS.get(message.channel)
        if prepare_resident is None:
            raise CannotSend(f"no resident channel {message.channel!r} is set up")
        return prepare_resident(message, settings)
    partner = message.partner
    if message.event_type == open311_channel.TOKEN_EVENT:
        return open311_channel.prepare_token_poll(message, partner)
    referral = message.referral
    if referral is None:
        raise CannotSend("the message has no referral to send")
    report = referral.report
    message.channel = partner.channel  # the channel it actually goes through
    if partner.channel == Channel.WEBHOOK:
        return webhook_channel.prepare(message, referral, report, partner)
    if partner.channel == Channel.OPEN311:
        return open311_channel.prepare(message, referral, report, partner)
    if partner.channel == Channel.EMAIL:
        return email_channel.prepare(message, referral, report, partner, settings)
    raise CannotSend(f"unknown channel {partner.channel!r}")
