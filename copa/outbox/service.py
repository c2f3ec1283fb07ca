"""Writing outbox messages (always inside the caller's transaction; the relay delivers them)."""

from __future__ import annotations

from copa.db import db, utcnow
from copa.outbox.models import OutboxMessage
from copa.routing.models import Channel, Referral


def enqueue_referral(
    referral: Referral, event_type: str = "referral.created"
) -> OutboxMessage | None:
    """The message announcing a referral to its partner; None when the partner has no channel
    (it reads its referrals through the partner API)."""
    partner = referral.partner
    if partner.channel == Channel.NONE:
        return None
    message = OutboxMessage(
        event_type=event_type,
        partner=partner,
        referral=referral,
        channel=partner.channel,
        # Thin: identifiers only. The relay reads the referral when it sends, so a redaction
        # made before delivery is what the partner receives.
        payload={"referral_id": str(referral.id), "report_id": str(referral.report_id)},
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message
