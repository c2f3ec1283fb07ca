"""The outbox relay (``flask copa relay``): deliver due messages to partners, at least once.

The protocol, the same on both databases, works a batch at a time, in three short transactions
per batch however many messages it holds:

1. Claim: one transaction picks up to ``RELAY_BATCH_SIZE`` pending messages that are due and
   not leased by a live relay (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
   relays claim side by side without waiting for each other; ``BEGIN IMMEDIATE`` on SQLite,
   where claims simply take turns), writes this relay's name and a lease expiry on them, and
   commits.
2. Prepare: one transaction locks the messages this relay still holds, reads their partners,
   referrals and reports as they are now (a few queries for the whole batch), builds each
   request, cancels what must not go, renews the leases and commits before any network call:
   no transaction is ever open while a partner answers.
3. Send each request in turn, on a connection kept alive per partner address
   (``channels.http.Connections``: still only to the address the SSRF guard approved for that
   send), then record every outcome in one transaction, again only for the messages this relay
   still holds: a relay that lost a lease (it was stopped past it) overwrites nothing.

A message is never sent on a lease that could run out during the send: when the time left on
the batch's leases falls below one request's timeout and a margin, the outcomes so far are
recorded and the remaining leases renewed, in one transaction, before the next send.

A relay killed at any moment loses nothing: its claimed messages stay pending, and once their
leases expire another relay (or the same one restarted) claims them. A message sent but not
yet recorded when the relay died (at most a batch) is delivered again; receivers deduplicate
on its id (``webhook-id``).

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
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from copa.db import abandon, db, lease_owner, utcnow, write
from copa.outbox.channels import (
    UNDELIVERED_REFERRAL,
    CannotSend,
    Outcome,
    Request,
    Result,
    resident_gone,
)
from copa.outbox.channels.http import Connections
from copa.outbox.models import DeliveryAttempt, MessageState, OutboxMessage
from copa.relay import open311 as open311_channel
from copa.relay.preparing import WITHDRAWN_EVENT, cancel_reason, prepare
from copa.relay.relay_settings import RelaySettings
from copa.reports.models import Report
from copa.routing.models import Channel, Referral, ReferralState
from copa.web import telemetry
from copa.web.logs import request_id_context

log = logging.getLogger(__name__)

# DeliveryAttempt.outcome values.
DELIVERED, RETRY, DEAD, CANCELLED = "delivered", "retry", "dead", "cancelled"
LEASE_LOST = "lease_lost"  # the attempt happened, but another relay holds the message now


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
class Sent:
    """One attempt made, waiting to be recorded."""

    message_id: uuid.UUID
    outcome: Outcome
    attempted_at: datetime
    duration_ms: int


def run_relay(
    once: bool = False, owner: str | None = None, *, stop: threading.Event | None = None
) -> RelayStats:
    """Deliver due messages until ``stop`` is set; with ``once``, until none is due, then return."""
    relay = Relay(owner or lease_owner(), RelaySettings.from_app())
    stop = stop or threading.Event()
    log.info("relay %s started", relay.owner)
    try:
        while not stop.is_set():
            try:
                claimed = relay.run_batch(stop)
            except SQLAlchemyError:
                abandon()  # whatever the failed batch left half done
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
        # Partner connections kept alive for the length of a batch.
        self.connections = Connections()
        self.settings = replace(
            settings, channels=replace(settings.channels, connections=self.connections)
        )
        self.stats = RelayStats()
        self._random = random.Random()
        # Renew the leases before a send that might outlast them: one request and a margin.
        self._margin = settings.channels.timeout + 1.0
        self._lease_deadline = 0.0  # time.monotonic() when the batch's leases run out
        # For the metrics and the logs, from the prepare transaction: each message's channel,
        # whether it goes to a resident (a notification), and the request that created it.
        self._kinds: dict[uuid.UUID, tuple[str, bool]] = {}
        self._request_ids: dict[uuid.UUID, str | None] = {}
        self._uncounted: list[tuple[str, str, bool]] = []  # attempts of the open transaction

    # --- the protocol ---------------------------------------------------------------------

    def run_batch(self, stop: threading.Event | None = None) -> int:
        """Claim a batch and deliver it; how many messages were claimed."""
        self._kinds.clear()  # what the previous batch needed
        self._request_ids.clear()
        claimed = self.claim()
        if not claimed:
            return 0
        prepared = self._prepare(claimed)
        sent: list[Sent] = []
        try:
            while prepared:
                rest = [message_id for message_id, _ in prepared]
                if stop is not None and stop.is_set():
                    self._record(sent, release=rest)
                    return len(claimed)
                if time.monotonic() + self._margin > self._lease_deadline:
                    self._record(sent, renew=rest)
                    sent = []
                attempt = self._send(*prepared.pop(0))
                sent.append(attempt)
                if attempt.outcome.result == Result.GONE and prepared:
                    # A partner's endpoint is gone: write that down, and let the rest of the
                    # batch be judged again (its other messages are cancelled, not sent).
                    self._record(sent)
                    sent = []
                    prepared = self._prepare([message_id for message_id, _ in prepared])
            self._record(sent)
        finally:
            self.connections.close()
        return len(claimed)

    def claim(self) -> list[uuid.UUID]:
        """Lease up to a batch of due messages to this relay (one transaction)."""
        db.session.close()
        with write():
            now = utcnow()  # after the lock: SQLite may have made us wait for it
            ids = list(
                db.session.scalars(
                    sa.select(OutboxMessage.id)
                    .where(
                        OutboxMessage.state == MessageState.PENDING,
                        OutboxMessage.next_attempt_at <= now,
                        sa.or_(
                            OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now
                        ),
                    )
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self.settings.batch_size)
                    .with_for_update(
                        skip_locked=True
                    )  # PostgreSQL; SQLite's lock is BEGIN IMMEDIATE
                )
            )
            if ids:
                db.session.execute(
                    sa.update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids))
                    .values(lease_owner=self.owner, lease_until=now + self.settings.lease)
                    .execution_options(synchronize_session=False)
                )
        self.stats.claimed += len(ids)
        return ids

    def release(self, ids: list[uuid.UUID]) -> None:
        """Give back claimed messages not yet tried (stopping), so others need not wait."""
        db.session.close()
        with write():
            self._release(ids)

    # --- the transactions ---------------------------------------------------------------------

    def _held(self, ids: list[uuid.UUID], *, with_reports: bool) -> dict[uuid.UUID, OutboxMessage]:
        """The messages among ``ids`` this relay still holds and that are still pending, locked,
        with their partners and referrals (and to build requests, the reports): one query each
        for the whole batch."""
        referrals = selectinload(OutboxMessage.referral)
        if with_reports:
            referrals = referrals.selectinload(Referral.report).selectinload(Report.category)
        messages = db.session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.lease_owner == self.owner,
                OutboxMessage.state == MessageState.PENDING,
            )
            .options(selectinload(OutboxMessage.partner), referrals)
            .with_for_update(of=OutboxMessage)
        )
        return {message.id: message for message in messages}

    def _prepare(self, ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, Request | Outcome]]:
        """Renew the leases and build the requests, in claim order (one transaction). A message
        that cannot be prepared because of a bug gets a failed outcome to record instead."""
        db.session.close()  # nothing cached from an earlier transaction
        self._uncounted = []
        with write():
            held = self._held(ids, with_reports=True)
            self.stats.lost += len(ids) - len(held)
            prepared: list[tuple[uuid.UUID, Request | Outcome]] = []
            for message_id in ids:
                message = held.get(message_id)
                if message is None:
                    continue
                self._request_ids[message_id] = (message.payload or {}).get("request_id")
                self._kinds[message_id] = (message.channel, message.partner_id is None)
                reason = cancel_reason(message)
                if reason is None:
                    try:
                        prepared.append((message_id, prepare(message, self.settings.channels)))
                        # prepare() sets the channel it actually goes through
                        self._kinds[message_id] = (message.channel, message.partner_id is None)
                        continue
                    except CannotSend as error:
                        reason = str(error)
                    except SQLAlchemyError:
                        raise
                    except Exception as error:  # noqa: BLE001 - a bug must not stop the relay or loop
                        db.session.expire(message)  # whatever it half-changed is not written
                        log.exception(
                            "relay %s: could not prepare message %s", self.owner, message_id
                        )
                        error_text = f"internal error: {type(error).__name__}"
                        prepared.append((message_id, Outcome(Result.FAILED, error=error_text)))
                        continue
                self._cancel(message, reason)
            if prepared:
                self._lease([message_id for message_id, _ in prepared])
        self._count()
        return prepared

    def _send(self, message_id: uuid.UUID, request: Request | Outcome) -> Sent:
        """One attempt at one prepared message, with no transaction open."""
        attempted_at = utcnow()
        if isinstance(request, Outcome):  # it could not even be prepared
            return Sent(message_id, request, attempted_at, 0)
        channel = self._kinds.get(message_id, ("unknown", False))[0]
        # The lines about this send carry the id of the request that created the message.
        with request_id_context(self._request_ids.get(message_id)):
            log.info("relay %s: sending message %s over %s", self.owner, message_id, channel)
            started = time.monotonic()
            try:
                outcome = request.send(self.settings.channels)
            except Exception as error:  # noqa: BLE001 - channels return outcomes; this is a bug
                log.exception("relay %s: sending message %s failed", self.owner, message_id)
                outcome = Outcome(Result.FAILED, error=f"internal error: {type(error).__name__}")
            duration_ms = int((time.monotonic() - started) * 1000)
            # The result and status only: an error text may quote the partner's answer.
            log.info(
                "relay %s: message %s %s (status %s) in %d ms",
                self.owner,
                message_id,
                outcome.result,
                outcome.status_code,
                duration_ms,
            )
        return Sent(message_id, outcome, attempted_at, duration_ms)

    def _record(
        self,
        sent: list[Sent],
        *,
        renew: Sequence[uuid.UUID] = (),
        release: Sequence[uuid.UUID] = (),
    ) -> None:
        """Write the outcomes of ``sent`` (one transaction), and renew or release the leases of
        the messages still to send."""
        if not (sent or renew or release):
            return
        db.session.close()
        self._uncounted = []
        with write():
            arrived: set[uuid.UUID] = set()  # reports a referral of which was just delivered
            held = self._held([s.message_id for s in sent], with_reports=False) if sent else {}
            for attempt in sent:
                message = held.get(attempt.message_id)
                if message is None:
                    # Another relay took the message over (this one outlived its lease): the
                    # attempt is a fact worth keeping, but the message is theirs to update now.
                    log.warning(
                        "relay %s lost the lease of message %s", self.owner, attempt.message_id
                    )
                    self._attempt(attempt.message_id, attempt, LEASE_LOST)
                    self.stats.lost += 1
                    continue
                self._apply(message, attempt, arrived)
            if arrived:
                # A report flagged because a delivery failed is unflagged once one arrives: one
                # statement for the batch, which touches only the (rare) flagged reports.
                db.session.execute(
                    sa.update(Report)
                    .where(Report.id.in_(arrived), Report.delivery_failed.is_(True))
                    .values(delivery_failed=False)
                    .execution_options(synchronize_session=False)
                )
            if renew:
                self._lease(renew)
            if release:
                self._release(release)
        self._count()

    def _lease(self, ids: Sequence[uuid.UUID]) -> None:
        """Renew the leases of those of ``ids`` this relay still holds, from now."""
        # The deadline this relay keeps is read first, so it never ends after the stored lease.
        started = time.monotonic()
        now = utcnow()
        db.session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.lease_owner == self.owner,
                OutboxMessage.state == MessageState.PENDING,
            )
            .values(lease_owner=self.owner, lease_until=now + self.settings.lease)
            .execution_options(synchronize_session=False)
        )
        self._lease_deadline = started + self.settings.lease.total_seconds()

    def _release(self, ids: Sequence[uuid.UUID]) -> None:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == self.owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    # --- outcomes -------------------------------------------------------------------------

    def _apply(self, message: OutboxMessage, attempt: Sent, arrived: set[uuid.UUID]) -> None:
        outcome = attempt.outcome
        now = utcnow()
        message.attempts += 1
        message.lease_owner, message.lease_until = None, None
        if outcome.result == Result.DELIVERED:
            message.state, message.delivered_at, message.last_error = (
                MessageState.DELIVERED,
                now,
                None,
            )
            self._mark_referral(message, outcome, now, arrived)
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
        self._attempt(message.id, attempt, label)

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

    def _mark_referral(
        self, message: OutboxMessage, outcome: Outcome, now: datetime, arrived: set[uuid.UUID]
    ) -> None:
        referral = message.referral
        if referral is None:
            return
        if message.event_type != WITHDRAWN_EVENT and referral.state != ReferralState.WITHDRAWN:
            arrived.add(referral.report_id)  # a staff retry may have got it there
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
        failed = Outcome(Result.FAILED, error=reason)
        self._attempt(message.id, Sent(message.id, failed, utcnow(), 0), CANCELLED)
        self.stats.cancelled += 1
        log.info("message %s cancelled: %s", message.id, reason)

    def _attempt(self, message_id: uuid.UUID, attempt: Sent, label: str) -> None:
        channel, to_resident = self._kinds.get(message_id, ("unknown", False))
        self._uncounted.append((channel, label, to_resident))
        outcome = attempt.outcome
        db.session.add(
            DeliveryAttempt(
                message_id=message_id,
                attempted_at=attempt.attempted_at,
                duration_ms=attempt.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                outcome=label,
            )
        )

    def _count(self) -> None:
        """Count the attempts of the transaction just committed (none if it rolled back)."""
        for channel, label, to_resident in self._uncounted:
            telemetry.RELAY_ATTEMPTS.labels(channel, label).inc()
            if to_resident and label == DELIVERED:
                telemetry.NOTIFICATIONS_SENT.labels(channel).inc()
            elif to_resident and label != LEASE_LOST:
                telemetry.NOTIFICATIONS_FAILED.labels(channel, label).inc()
        self._uncounted = []

    def delay(self, position: int, retry_after: float | None) -> float:
        """Seconds before attempt number ``position`` (0-based): the schedule's step, lengthened
        by the jitter, and never shorter than what the partner asked for (capped at 24 h)."""
        steps = self.settings.schedule
        base = steps[min(position, len(steps) - 1)]
        delay = base * (1 + self._random.uniform(0, self.settings.jitter))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay
