"""What the outbox tells an operator: the backlog, read from the database at scrape time, and
the request that made each message.

``OutboxBacklog`` is a Prometheus collector: one grouped query over the pending and dead
messages (the ``state, next_attempt_at`` index) at each scrape, so the figures are the
database's, whichever process wrote the messages. The request id of the request that created a
message is kept in its payload (``request_id``); the payload stays inside the service (channels
build what a partner receives from the referral, never from it), so partners never see it.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from copa.db import abandon, db, end_read, utcnow
from copa.outbox.models import MessageState, OutboxMessage
from copa.web.logs import current_request_id

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "request_id"
_BACKLOG_STATES = (MessageState.PENDING, MessageState.DEAD)


def backlog() -> dict[tuple[str, str], tuple[int, datetime | None]]:
    """{(channel, state): (messages, when the oldest became due to go)} for pending and dead
    messages. A message held back for the resident's quiet hours counts from their end."""
    since = sa.func.coalesce(OutboxMessage.held_until, OutboxMessage.created_at)
    rows = db.session.execute(
        sa.select(
            OutboxMessage.channel,
            OutboxMessage.state,
            sa.func.count(),
            sa.func.min(since),
        )
        .where(OutboxMessage.state.in_(_BACKLOG_STATES))
        .group_by(OutboxMessage.channel, OutboxMessage.state)
    ).all()
    return {(channel, state): (count, oldest) for channel, state, count, oldest in rows}


class OutboxBacklog(Collector):
    """``copa_outbox_messages{channel,state}`` (pending and dead) and
    ``copa_outbox_oldest_pending_age_seconds{channel}``, from the database, now."""

    def collect(self):
        messages = GaugeMetricFamily(
            "copa_outbox_messages",
            "Outbox messages waiting to be delivered (pending) or given up on (dead), by channel.",
            labels=["channel", "state"],
        )
        oldest = GaugeMetricFamily(
            "copa_outbox_oldest_pending_age_seconds",
            "How long the oldest pending message of a channel has been due to go "
            "(from its creation, or the end of the quiet hours that held it).",
            labels=["channel"],
        )
        readable = GaugeMetricFamily(
            "copa_outbox_backlog_readable",
            "1 when this scrape could read the outbox backlog from the database, else 0.",
        )
        try:
            figures = backlog()
            end_read()
        except SQLAlchemyError:
            abandon()
            log.warning("metrics: the outbox backlog could not be read", exc_info=True)
            readable.add_metric([], 0)
            yield readable
            return
        now = utcnow()
        for (channel, state), (count, since) in sorted(figures.items()):
            messages.add_metric([channel, state], count)
            if state == MessageState.PENDING and since is not None:
                oldest.add_metric([channel], max(0.0, (now - since).total_seconds()))
        readable.add_metric([], 1)
        yield messages
        yield oldest
        yield readable


@sa.event.listens_for(OutboxMessage, "before_insert")
def _stamp_request_id(mapper, connection, message: OutboxMessage) -> None:  # noqa: ARG001
    """A message created while serving a request remembers the request's id, so the relay's
    log lines about it can be found from the request (and the other way round)."""
    request_id = current_request_id()
    payload = message.payload or {}
    if request_id and REQUEST_ID_KEY not in payload:
        message.payload = {**payload, REQUEST_ID_KEY: request_id}
