"""What an outbox message becomes before the relay sends it: the request over its partner's
channel (or a resident's), or the reason it must not go at all. Read inside the relay's prepare
transaction; nothing here writes."""

from __future__ import annotations

from copa.outbox.channels import RESIDENT_CHANNELS, CannotSend, Request, Settings
from copa.outbox.models import OutboxMessage
from copa.relay import email as email_channel
from copa.relay import open311 as open311_channel
from copa.relay import webhook as webhook_channel
from copa.routing.models import Channel, ReferralState

_ENDPOINT_CHANNELS = frozenset({Channel.WEBHOOK, Channel.OPEN311})
WITHDRAWN_EVENT = "referral.withdrawn"  # staff re-routed the report: the partner may stop


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
