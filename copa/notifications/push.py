"""Push to residents' phones: the ``fcm`` and ``apns`` channels of the outbox relay.

``prepare_push`` runs in the relay's short transaction when a message is due: it reads the
notification and the install's push token as they are now, so an erasure, a move to a new
phone, a token removed or push turned off since ``notify()`` stops the message (CannotSend:
cancelled, no attempt). What a lock screen shows is exactly the notification's title and body;
the data carries identifiers only, and the app fetches the rest over the API, signed in.
``forget_push_token`` runs when FCM or APNs answered that the token is dead.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from copa.db import db
from copa.notifications.models import Notification, NotifyChannel, PushToken
from copa.notifications.service import (
    UNSUBSCRIBED,
    deliverable,
    preferences_of,
    push_service_for,
)
from copa.outbox.channels import (
    CannotSend,
    Outcome,
    Request,
    Settings,
    apns,
    fcm,
    register_resident_channel,
)
from copa.outbox.models import OutboxMessage
from copa.settings import settings as copa_settings  # `settings` is the channels' here

log = logging.getLogger(__name__)


def push_data(notification: Notification) -> dict[str, str]:
    """What the app receives beside the visible text: identifiers and the event, as strings."""
    data = {"notification_id": str(notification.id), "event": notification.event}
    if notification.report_id is not None:
        data["report_id"] = str(notification.report_id)
    if notification.feedback_id is not None:
        data["feedback_id"] = str(notification.feedback_id)
    return data


def _push_token(device_id) -> PushToken | None:
    return db.session.scalar(sa.select(PushToken).where(PushToken.device_id == device_id))


def prepare_push(message: OutboxMessage, settings: Settings) -> Request:
    """The FCM or APNs request of a push message; CannotSend when it must not go at all."""
    notification = deliverable(message)
    if not preferences_of(notification.device_id).push:
        raise CannotSend(f"{UNSUBSCRIBED} (push is off)")
    token = _push_token(notification.device_id)
    if token is None:
        raise CannotSend("the install has no push token any more")
    channel = push_service_for(token.platform)
    if channel is None:
        raise CannotSend("push is not configured")
    message.channel = channel  # the service it actually goes through
    config = copa_settings()
    common = {
        "message_id": str(message.id),
        "token": token.token,
        "title": notification.title,
        "body": notification.body,
        "data": push_data(notification),
    }
    if channel == NotifyChannel.APNS:
        if not (config.apns_key_id and config.apns_team_id and config.apns_topic):
            raise CannotSend("APNs needs COPA_APNS_KEY_ID, COPA_APNS_TEAM_ID and COPA_APNS_TOPIC")
        return apns.request(
            base_url=config.apns_url,
            key_file=str(config.apns_key_file),
            key_id=config.apns_key_id,
            team_id=config.apns_team_id,
            topic=config.apns_topic,
            collapse_id=str(notification.id),
            **common,
        )
    return fcm.request(
        base_url=config.fcm_url,
        credentials_file=str(config.fcm_credentials_file),
        collapse_key=str(notification.id),
        **common,
    )


def forget_push_token(message: OutboxMessage, outcome: Outcome) -> None:
    """The push service said the token is dead: remove it, unless the app has registered a
    new one since this message was sent (no commit; the relay's transaction)."""
    notification = db.session.get(Notification, message.notification_id)
    if notification is None or outcome.recipient is None:
        return
    token = db.session.scalar(
        sa.select(PushToken).where(PushToken.device_id == notification.device_id).with_for_update()
    )
    if token is not None and fcm.digest(token.token) == outcome.recipient:
        db.session.delete(token)
        log.info("message %s: the push token was unregistered and is removed", message.id)


for _channel in (NotifyChannel.FCM, NotifyChannel.APNS):
    register_resident_channel(_channel, prepare_push, forget_push_token)
