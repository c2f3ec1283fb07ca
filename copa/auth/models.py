from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow

# "Partner" (routing, a feature above this one) is named by string and never imported here:
# create_app imports every feature's models (import_models) before a mapper is configured.


class Device(UUIDPrimaryKey, Timestamps, db.Model):
    """A resident's app install: the pseudonymous identity a resident's submissions belong to."""

    __tablename__ = "device"

    platform: Mapped[str | None] = mapped_column(sa.String(16))
    app_version: Mapped[str | None] = mapped_column(sa.String(32))
    erased_at: Mapped[datetime | None]
    # SHA-256 of the device secret (shown once at registration): it opens a new sign-in when
    # the refresh token is lost, expired or its family revoked. High entropy, so no slow hash.
    secret_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # Set when the resident moved to a new phone with a transfer code: this install is done.
    transferred_at: Mapped[datetime | None]
    transferred_to_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="SET NULL")
    )


class TransferCode(UUIDPrimaryKey, db.Model):
    """A one-time code an old install creates so a new install takes over the resident."""

    __tablename__ = "device_transfer_code"

    device_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("device.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class User(UUIDPrimaryKey, Timestamps, db.Model):
    """An OPCC staff member or a partner organisation's user."""

    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("partner.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]

    partner = relationship("Partner")


class AuthSession(UUIDPrimaryKey, db.Model):
    """One sign-in: the family of every access and refresh token issued from it.

    Revoking the session (logout, reuse of a spent refresh token) refuses all of them at once.
    """

    __tablename__ = "auth_session"
    __table_args__ = (
        sa.CheckConstraint("(device_id IS NULL) <> (user_id IS NULL)", name="one_principal"),
    )

    device_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))


class RefreshToken(db.Model):
    """A refresh token that has been issued; each may be spent exactly once."""

    __tablename__ = "refresh_token"

    jti: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("auth_session.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
