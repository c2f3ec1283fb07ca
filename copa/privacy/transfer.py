"""Moving a resident to a new phone: the old install makes a one-time transfer code, the new
install redeems it and takes over everything the resident had (one transaction each).

The code is 20 characters of Crockford base32 (100 bits from ``secrets``), shown in groups of
four for typing and stored only as its SHA-256: too many guesses for any rate limit to let an
attacker near one, and a leaked table gives nothing away.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from copa.auth.models import Device, TransferCode
from copa.auth.service import revoke_all_for_device, sha256_hex
from copa.confidence.service import adopt_votes
from copa.contacts.models import Contact
from copa.db import db, utcnow, write
from copa.feedback.models import Feedback
from copa.messages.models import ResidentMessage
from copa.notifications.models import Notification, NotificationPreferences, PushToken
from copa.reports.models import Report
from copa.settings import settings
from copa.web.access import Principal
from copa.web.models import IdempotencyKey
from copa.web.problems import Unprocessable, problem_type

log = logging.getLogger(__name__)

# Crockford's base32: no I, L, O or U, so nothing is misread; I and L read as 1, O as 0.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 20  # 20 x 5 bits = 100 bits
GROUP = 4
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})

# What belongs to the resident through their app install, by the column that names the
# install: a transfer points each at the new one. A new column referencing device.id whose
# rows are the resident's goes here (votes, preferences and push tokens need more than a
# move, and are handled below).
MOVED: tuple[tuple[str, type, InstrumentedAttribute], ...] = (
    ("reports", Report, Report.device_id),
    ("feedback", Feedback, Feedback.device_id),  # and so its complaint case and satisfaction
    ("contact_details", Contact, Contact.device_id),
    ("notifications", Notification, Notification.device_id),
    ("messages", ResidentMessage, ResidentMessage.device_id),
)


class InvalidTransferCode(Unprocessable):
    type = problem_type("invalid-transfer-code")


@dataclass(frozen=True)
class NewTransferCode:
    code: str  # shown once, grouped for typing
    expires_at: datetime


@dataclass(frozen=True)
class Transfer:
    device_id: uuid.UUID  # the install that now holds everything
    moved: dict[str, int]


def create_transfer_code(principal: Principal) -> NewTransferCode:
    """Make a one-time code that lets a new install take over this resident; it voids the
    device's earlier unused codes and expires after COPA_TRANSFER_CODE_MINUTES."""
    with write():
        now = utcnow()
        db.session.execute(
            sa.delete(TransferCode).where(
                TransferCode.device_id == principal.id, TransferCode.used_at.is_(None)
            )
        )
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        expires_at = now + timedelta(minutes=settings().transfer_code_minutes)
        db.session.add(
            TransferCode(
                device_id=principal.id,
                code_hash=sha256_hex(raw),
                created_at=now,
                expires_at=expires_at,
            )
        )
    grouped = "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))
    return NewTransferCode(grouped, expires_at)


def redeem_transfer_code(principal: Principal, code: str) -> Transfer:
    """Move everything of the install that made ``code`` to the caller's install.

    Reports, feedback (with complaint cases), votes, contact details, notifications, messages
    and notification preferences move; the old install's push token and stored retry answers
    are deleted, every sign-in of it is revoked and its device secret stops working.
    A wrong, expired or spent code is a 422, all with the same message.
    """
    with write():
        now = utcnow()
        normalised = _normalised(code)
        found = None
        if normalised is not None:
            found = db.session.scalar(
                sa.select(TransferCode).where(
                    TransferCode.code_hash == sha256_hex(normalised),
                    TransferCode.used_at.is_(None),
                    TransferCode.expires_at > now,
                )
            )
        if found is None:
            raise _not_valid()
        if found.device_id == principal.id:
            raise InvalidTransferCode(
                "This code was made on this phone: enter it in the app on your new phone.",
                errors={"code": ["Made on this phone; enter it on the new phone."]},
            )
        old_id, new_id = found.device_id, principal.id
        devices = _hold(old_id, new_id)
        old, new = devices.get(old_id), devices.get(new_id)
        if old is None or not _live(old) or new is None or not _live(new):
            raise _not_valid()
        spent = db.session.execute(
            sa.update(TransferCode)
            .where(TransferCode.id == found.id, TransferCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # another install redeemed it a moment ago
            raise _not_valid()

        moved = {
            name: db.session.execute(
                sa.update(model)
                .where(column == old_id)
                .values({column.key: new_id})
                .execution_options(synchronize_session=False)
            ).rowcount
            for name, model, column in MOVED
        }
        moved["votes"] = adopt_votes(old_id, new_id)
        moved["notification_preferences"] = _move_preferences(old_id, new_id)
        _forget(old, new_id, now)
    log.info("device transfer completed: %s", ", ".join(f"{k}={v}" for k, v in moved.items()))
    return Transfer(new_id, moved)


def _normalised(code: str) -> str | None:
    """The code as generated, whatever the case, dashes or spaces it was typed with."""
    plain = "".join(code.split()).replace("-", "").upper().translate(_READ_AS)
    if len(plain) != CODE_LENGTH or any(c not in ALPHABET for c in plain):
        return None
    return plain


def _not_valid() -> InvalidTransferCode:
    # One message for wrong, expired and spent codes: no oracle for guessing.
    return InvalidTransferCode(
        "This transfer code is not valid. Make a new one in the app on your old phone.",
        errors={"code": ["Not a valid transfer code: it may be mistyped, expired or used."]},
    )


def _hold(*device_ids: uuid.UUID) -> dict[uuid.UUID, Device]:
    """Lock both installs' rows, in id order (no deadlock), and read them again: a vote or
    another transfer of either waits until this one is done."""
    rows = db.session.scalars(
        sa.select(Device)
        .where(Device.id.in_(device_ids))
        .order_by(Device.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {device.id: device for device in rows}


def _live(device: Device) -> bool:
    return device.erased_at is None and device.transferred_at is None


def _move_preferences(old_id: uuid.UUID, new_id: uuid.UUID) -> int:
    """The old install's choices replace the new one's defaults; choices the new install has
    already made stay. Returns 1 when they moved."""
    chosen = db.session.scalar(
        sa.select(NotificationPreferences.device_id).where(
            NotificationPreferences.device_id == new_id
        )
    )
    if chosen is not None:
        db.session.execute(
            sa.delete(NotificationPreferences).where(NotificationPreferences.device_id == old_id)
        )
        return 0
    return db.session.execute(
        sa.update(NotificationPreferences)
        .where(NotificationPreferences.device_id == old_id)
        .values(device_id=new_id)
        .execution_options(synchronize_session=False)
    ).rowcount


def _forget(old: Device, new_id: uuid.UUID, now: datetime) -> None:
    """End the old install: no push, no sign-in, no secret, no codes, no stored answers."""
    db.session.execute(sa.delete(PushToken).where(PushToken.device_id == old.id))
    db.session.execute(
        sa.delete(TransferCode).where(
            TransferCode.device_id == old.id, TransferCode.used_at.is_(None)
        )
    )
    # Its retried requests can never be replayed now, and their stored answers may repeat
    # what it sent (a redaction would not find them under the new install).
    db.session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.principal == f"device:{old.id}")
    )
    revoke_all_for_device(old.id, "transferred")
    old.transferred_at = now
    old.transferred_to_id = new_id
    old.secret_hash = None
