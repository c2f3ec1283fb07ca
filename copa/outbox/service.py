"""The staff's view of deliveries: outbox messages, their attempts, and retrying one.

Features write their own outbox messages inside their transactions (routing's
``enqueue_referral``, notifications' ``_enqueue``); the relay (copa/relay) delivers them."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.audit.service import Actor, record
from copa.db import db, utcnow, write
from copa.outbox.models import MessageState, OutboxMessage
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, Unprocessable, problem_type

# --- staff: the deliveries (GET /v1/staff/deliveries, POST .../{id}/retry) ---------------------


class DeliveryNotFound(NotFound):
    type = problem_type("delivery-not-found")


class AlreadyDelivered(Conflict):
    type = problem_type("delivery-already-delivered")


def list_deliveries(state: str | None, page: int, page_size: int) -> PageResult:
    """Outbox messages, newest first, optionally of one state (``dead`` for the dead letters),
    each with its attempts."""
    statement = (
        sa.select(OutboxMessage)
        .options(selectinload(OutboxMessage.attempt_log), selectinload(OutboxMessage.partner))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
    )
    if state is not None:
        if state not in set(MessageState):
            raise Unprocessable(
                "Unknown delivery state.",
                errors={"state": [f"One of: {', '.join(MessageState)}."]},
            )
        statement = statement.where(OutboxMessage.state == state)
    return paginate(statement, page, page_size)


def retry_delivery(principal: Principal, message_id: uuid.UUID) -> OutboxMessage:
    """Send a dead or cancelled message again from the start of the retry schedule (its past
    attempts are kept); a pending one is made due now. A delivered one is a 409."""
    with write():
        message = db.session.scalar(
            sa.select(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .options(selectinload(OutboxMessage.attempt_log), selectinload(OutboxMessage.partner))
            .with_for_update(of=OutboxMessage)
        )
        if message is None:
            raise DeliveryNotFound("No such delivery.")
        if message.state == MessageState.DELIVERED:
            raise AlreadyDelivered("This message was delivered already.")
        before = _delivery_summary(message)
        now = utcnow()
        if message.state == MessageState.PENDING:
            message.next_attempt_at = min(message.next_attempt_at, now)
        else:
            message.state = MessageState.PENDING
            message.attempts = 0  # the schedule starts again; the attempt log keeps the history
            message.next_attempt_at = now
            message.lease_owner, message.lease_until = None, None
        record(
            Actor.of(principal),
            "delivery.retry",
            "delivery",
            message.id,
            before=before,
            after=_delivery_summary(message),
        )
    return message


def _delivery_summary(message: OutboxMessage) -> dict[str, object]:
    return {
        "state": message.state,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "partner_id": message.partner_id,
        "referral_id": message.referral_id,
    }
