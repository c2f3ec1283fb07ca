"""Use cases of what residents are told.

``notify()`` is called inside the transaction of the change it announces (a status change, a
case moving on, a message from staff): it writes the inbox row and, where the resident can be
reached and wants it, one outbox message per channel (push, email). The relay delivers those
later; nothing leaves the process in the request. Quiet hours hold pushes and emails back
until they end; the inbox row is there at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from copa.auth.models import Device
from copa.contacts.models import Contact
from copa.db import db, utcnow, write
from copa.notifications import catalogue
from copa.notifications.models import (
    Notification,
    NotificationPreferences,
    NotifyChannel,
    PushToken,
)
from copa.outbox.channels import CannotSend, on_undelivered_referral
from copa.outbox.models import MessageState, OutboxMessage
from copa.settings import settings
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate

LONDON = ZoneInfo("Europe/London")
EVENT_PREFIX = "notification."


# --- notify: part of the caller's transaction ------------------------------------------------


class Submission(Protocol):
    """What notify() reads of a report or a feedback: the features above pass theirs in."""

    id: uuid.UUID
    reference: str
    device_id: uuid.UUID | None
    contact: Contact | None


class ReportLike(Submission, Protocol):
    """A report also says where it went and the outcome of the last staff decision."""

    destination_name: str
    outcome: str | None


def notify(
    event: str,
    *,
    report: ReportLike | None = None,
    feedback: Submission | None = None,
    note: str | None = None,
    outcome: str | None = None,
    destination: str | None = None,
    now: datetime | None = None,
) -> Notification | None:
    """Tell the resident behind ``report`` or ``feedback`` about ``event`` (no commit).

    None when there is nobody to tell: the submission came through Open311, or its resident
    erased their data or moved to another install.
    """
    if event not in catalogue.CATALOGUE:
        raise ValueError(f"no text for notification event {event!r}")
    submission = report if report is not None else feedback
    if submission is None:
        raise ValueError("notify() needs a report or a feedback")
    device_id = submission.device_id
    if device_id is None:
        return None
    now = now or utcnow()
    preferences = preferences_of(device_id)
    words = catalogue.text(
        event,
        preferences.language,
        reference=submission.reference,
        destination=destination or (report.destination_name if report is not None else None) or "",
        outcome=outcome
        if outcome is not None
        else (report.outcome if report is not None else "") or "",
    )
    notification = Notification(
        id=uuid.uuid4(),
        device_id=device_id,
        event=event,
        report_id=report.id if report is not None else None,
        feedback_id=feedback.id if feedback is not None else None,
        reference=submission.reference,
        language=preferences.language,
        title=words.title,
        body=words.body,
        note=note or None,
        created_at=now,
    )
    db.session.add(notification)
    held_until = quiet_hours_end(preferences, now)
    due = held_until or now
    push = push_channel_for(device_id) if preferences.push else None
    if push is not None:
        _enqueue(notification, push, due, held_until)
    if preferences.email and _email_consent(submission.contact):
        _enqueue(notification, NotifyChannel.EMAIL, due, held_until)
    return notification


def _tell_undelivered(report: ReportLike) -> None:
    """The relay gave up on the report's referral: the resident hears that OPCC staff have it."""
    notify("report.delivery_failed", report=report)


on_undelivered_referral("notifications", _tell_undelivered)


def _enqueue(
    notification: Notification, channel: str, due: datetime, held_until: datetime | None
) -> None:
    db.session.add(
        OutboxMessage(
            id=uuid.uuid4(),
            event_type=EVENT_PREFIX + notification.event,
            partner_id=None,
            notification_id=notification.id,
            channel=channel,
            # Identifiers only: the relay reads the notification and the resident's token or
            # address when it sends, so an erasure or unsubscribe before then is respected.
            payload={
                "notification_id": str(notification.id),
                **({"report_id": str(notification.report_id)} if notification.report_id else {}),
                **(
                    {"feedback_id": str(notification.feedback_id)}
                    if notification.feedback_id
                    else {}
                ),
            },
            state=MessageState.PENDING,
            next_attempt_at=due,
            held_until=held_until,
            created_at=notification.created_at,
        )
    )


def _email_consent(contact: Contact | None) -> bool:
    """The resident gave an email with this submission and asked to hear by email."""
    return contact is not None and bool(contact.email) and bool(contact.notify_by_email)


def push_service_for(platform: str) -> str | None:
    """The push service a token of ``platform`` goes through under the current configuration:
    APNs directly for iOS when it is configured, otherwise FCM (which also reaches iOS through
    Firebase); None when push is off. Asked again at send time: the configuration may change."""
    config = settings()
    if platform == "ios" and config.apns_key_file:
        return NotifyChannel.APNS
    if config.fcm_credentials_file:
        return NotifyChannel.FCM
    return None


def push_channel_for(device_id: uuid.UUID) -> str | None:
    """The push channel of the device's token, or None (no token, or push is off)."""
    config = settings()
    if not (config.fcm_credentials_file or config.apns_key_file):
        return None  # push is off: no need to look for a token on the request path
    token = db.session.scalar(sa.select(PushToken).where(PushToken.device_id == device_id))
    return None if token is None else push_service_for(token.platform)


def deliverable(message: OutboxMessage) -> Notification:
    """The notification a push or email message carries, if its resident can still be told
    (part of the relay's prepare); CannotSend naming why not."""
    notification = (
        db.session.get(Notification, message.notification_id)
        if message.notification_id is not None
        else None
    )
    if notification is None:
        raise CannotSend("the notification no longer exists (the resident erased their data)")
    device = db.session.get(Device, notification.device_id)
    if device is None or device.erased_at is not None:
        raise CannotSend("the resident erased their data")
    if device.transferred_at is not None:
        raise CannotSend("the resident moved to another app install")
    return notification


# --- quiet hours ---------------------------------------------------------------------------


def quiet_hours_end(preferences: NotificationPreferences, now: datetime) -> datetime | None:
    """When the resident's quiet hours end, if ``now`` falls inside them (UTC); else None.

    Quiet hours are wall-clock times in Europe/London and may wrap midnight (23:00 to 07:00).
    Their end is found on the London calendar, so it stays 07:00 local across a DST change.
    """
    start, end = preferences.quiet_hours_start, preferences.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(LONDON)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # wraps midnight
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return _london(end_day, end).astimezone(UTC)


def _london(day: Any, clock: time) -> datetime:
    """A wall-clock time on a London day; a time skipped by the spring change moves forward."""
    candidate = datetime.combine(day, clock, tzinfo=LONDON)
    # A nonexistent local time (01:30 on the spring-forward day) does not round-trip.
    round_trip = candidate.astimezone(UTC).astimezone(LONDON)
    if round_trip.replace(tzinfo=None) != candidate.replace(tzinfo=None):
        return round_trip
    return candidate


# --- preferences ----------------------------------------------------------------------------


def preferences_of(device_id: uuid.UUID) -> NotificationPreferences:
    """The resident's preferences, or the defaults (not stored until they change one)."""
    found = db.session.get(NotificationPreferences, device_id)
    if found is not None:
        return found
    return NotificationPreferences(
        device_id=device_id,
        push=True,
        email=True,
        quiet_hours_start=None,
        quiet_hours_end=None,
        language=catalogue.DEFAULT_LANGUAGE,
    )


def get_preferences(principal: Principal) -> NotificationPreferences:
    """GET /v1/me/notification-preferences."""
    return preferences_of(principal.id)


def update_preferences(principal: Principal, changes: Mapping[str, Any]) -> NotificationPreferences:
    """PATCH /v1/me/notification-preferences: change any of push, email, quiet hours, language."""
    with write():
        preferences = db.session.get(NotificationPreferences, principal.id)
        if preferences is None:
            preferences = preferences_of(principal.id)
            db.session.add(preferences)
        for name in ("push", "email", "language"):
            if name in changes:
                setattr(preferences, name, changes[name])
        if "quiet_hours" in changes:
            quiet = changes["quiet_hours"]
            preferences.quiet_hours_start = quiet["start"] if quiet else None
            preferences.quiet_hours_end = quiet["end"] if quiet else None
        preferences.updated_at = utcnow()
    return preferences


# --- push tokens ----------------------------------------------------------------------------


def set_push_token(principal: Principal, payload: Mapping[str, Any]) -> PushToken:
    """PUT /v1/me/push-token: this install's token (a new one replaces the old)."""
    with write():
        token = db.session.scalar(
            sa.select(PushToken).where(PushToken.device_id == principal.id).with_for_update()
        )
        if token is None:
            token = PushToken(id=uuid.uuid4(), device_id=principal.id)
            db.session.add(token)
        token.platform = payload["platform"]
        token.token = payload["token"]
        token.locale = payload.get("locale")
        token.app_version = payload.get("app_version")
        token.updated_at = utcnow()
    return token


def delete_push_token(principal: Principal) -> None:
    """DELETE /v1/me/push-token: no more pushes to this install (the inbox still fills)."""
    with write():
        db.session.execute(sa.delete(PushToken).where(PushToken.device_id == principal.id))


# --- the inbox ------------------------------------------------------------------------------


@dataclass
class InboxPage:
    items: list[Notification]
    page: int
    page_size: int
    total: int
    unread: int


def inbox(principal: Principal, page: int, page_size: int) -> InboxPage:
    """The resident's notifications, newest first, with how many are unread."""
    statement = (
        sa.select(Notification)
        .where(Notification.device_id == principal.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
    found: PageResult = paginate(statement, page, page_size)
    unread = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.device_id == principal.id, Notification.read_at.is_(None))
    )
    return InboxPage(found.items, found.page, found.page_size, found.total, unread or 0)


def mark_read(principal: Principal, payload: Mapping[str, Any]) -> dict[str, int]:
    """Mark the given notifications (or all) read; ids that are not the caller's are ignored."""
    with write():
        statement = (
            sa.update(Notification)
            .where(Notification.device_id == principal.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if not payload.get("all"):
            statement = statement.where(Notification.id.in_(payload.get("ids") or []))
        marked = db.session.execute(statement).rowcount
        unread = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.device_id == principal.id, Notification.read_at.is_(None))
        )
    return {"marked": marked or 0, "unread": unread or 0}


# --- proof of what was sent (staff) ------------------------------------------------------


@dataclass(frozen=True)
class SentRecord:
    notification_id: uuid.UUID
    event: str
    channel: str  # inbox, fcm, apns, resident_email
    at: datetime
    result: str  # delivered, failed, held, pending, retrying, unsubscribed, cancelled
    attempts: int
    delivered_at: datetime | None
    title: str


def sent_to_resident(
    *, report_id: uuid.UUID | None = None, feedback_id: uuid.UUID | None = None
) -> list[SentRecord]:
    """Each notification of a report or feedback, per channel, with its result: the inbox row
    and each push or email message. Never a token, an address or a body the resident did not
    see (the title is what the lock screen showed)."""
    column = Notification.report_id if report_id is not None else Notification.feedback_id
    wanted = report_id if report_id is not None else feedback_id
    notifications = list(
        db.session.scalars(
            sa.select(Notification)
            .where(column == wanted)
            .order_by(Notification.created_at, Notification.id)
        )
    )
    if not notifications:
        return []
    messages: dict[uuid.UUID, list[OutboxMessage]] = {n.id: [] for n in notifications}
    for message in db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.notification_id.in_(list(messages)))
        .order_by(OutboxMessage.created_at, OutboxMessage.channel, OutboxMessage.id)
    ):
        messages[message.notification_id].append(message)
    now = utcnow()
    records = []
    for notification in notifications:
        records.append(
            SentRecord(
                notification.id,
                notification.event,
                "inbox",
                notification.created_at,
                "delivered",
                0,
                notification.created_at,
                notification.title,
            )
        )
        for message in messages[notification.id]:
            records.append(
                SentRecord(
                    notification.id,
                    notification.event,
                    message.channel,
                    message.created_at,
                    _result(message, now),
                    message.attempts,
                    message.delivered_at,
                    notification.title,
                )
            )
    return records


UNSUBSCRIBED = "the resident unsubscribed"


def _result(message: OutboxMessage, now: datetime) -> str:
    if message.state == MessageState.DELIVERED:
        return "delivered"
    if message.state == MessageState.DEAD:
        return "failed"
    if message.state == MessageState.CANCELLED:
        return (
            "unsubscribed" if (message.last_error or "").startswith(UNSUBSCRIBED) else "cancelled"
        )
    if message.held_until is not None and message.attempts == 0 and message.held_until > now:
        return "held"
    return "pending" if message.attempts == 0 else "retrying"
