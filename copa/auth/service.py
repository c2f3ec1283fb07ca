"""Use cases of signing in: devices, staff and partner users, refresh, logout and revocation
(the admins manage users in ``user_admin``). Each public function that writes is one transaction and
commits it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from copa.auth.models import AuthSession, Device, RefreshToken, TransferCode, User
from copa.db import db, utcnow, write
from copa.settings import settings
from copa.web.access import Principal, Role
from copa.web.problems import Unauthorized, Unprocessable, problem_type


class InvalidCredentials(Unauthorized):
    type = problem_type("invalid-credentials")


class RefreshReused(Unauthorized):
    type = problem_type("refresh-token-reused")


class InvalidDeviceSecret(Unauthorized):
    type = problem_type("invalid-device-secret")


DEVICE_SECRET_PREFIX = "copads_"
DEVICE_SECRET_BYTES = 32  # 256 bits from the operating system's CSPRNG


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal
    token_type: str = "Bearer"
    user: User | None = field(default=None)
    device_secret: str | None = None  # only in the answer to a device's registration

    @property
    def roles(self) -> list[str]:
        return sorted(self.principal.roles)


class InvalidAssignee(Unprocessable):
    type = problem_type("invalid-assignee")


def assignee(user_id: uuid.UUID | None, roles: frozenset[str]) -> User | None:
    """The user work may be given to: active and holding one of ``roles`` (422 otherwise);
    None for nobody."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or roles.isdisjoint(user.roles or ()):
        allowed = " or ".join(sorted(roles))
        raise InvalidAssignee(
            f"This can be assigned only to an active {allowed} user.",
            errors={"assignee_id": [f"Not an active {allowed} user."]},
        )
    return user


def assignable(roles: frozenset[str]) -> list[User]:
    """The users work may be given to (active, holding one of ``roles``), by name."""
    users = db.session.scalars(
        sa.select(User).where(User.active.is_(True)).order_by(User.display_name, User.email)
    )
    return [user for user in users if not roles.isdisjoint(user.roles or ())]


def _hasher() -> PasswordHasher:
    """argon2id with the configured cost (COPA_PASSWORD_HASH_*; the defaults are RFC 9106's
    low-memory profile, which argon2-cffi recommends)."""
    s = settings()
    return _hasher_for(
        s.password_hash_time_cost, s.password_hash_memory_kib, s.password_hash_parallelism
    )


@cache
def _hasher_for(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


@cache
def _dummy_hash_for(hasher: PasswordHasher) -> str:
    return hasher.hash("an unused password that keeps timing even")


def _dummy_hash() -> str:
    return _dummy_hash_for(_hasher())


def register_device(platform: str | None = None, app_version: str | None = None) -> TokenPair:
    """Register a resident's app install and sign it in; the answer alone holds its secret."""
    secret = DEVICE_SECRET_PREFIX + secrets.token_urlsafe(DEVICE_SECRET_BYTES)
    device = Device(platform=platform, app_version=app_version, secret_hash=sha256_hex(secret))
    with write():
        db.session.add(device)
        db.session.flush()
        principal = Principal("device", device.id, frozenset({Role.RESIDENT}), uuid.uuid4())
        pair = _issue(principal, new_session=True)
    pair.device_secret = secret
    return pair


def open_device_session(device_id: uuid.UUID, device_secret: str) -> TokenPair:
    """Sign a resident's install in again with its device secret (a new sign-in), for when its
    refresh token was lost, expired or revoked.

    A wrong secret, an unknown, erased or transferred device all get the same 401. The secret
    is not rotated: an answer lost on the way would otherwise lock the resident out for good.
    """
    with write():
        device = db.session.get(Device, device_id)
        stored = device.secret_hash if device is not None else None
        # Compare even when there is nothing to compare with: the same work for every refusal.
        matches = hmac.compare_digest(stored or _NO_SECRET_HASH, sha256_hex(device_secret))
        if (
            device is None
            or stored is None
            or not matches
            or device.erased_at is not None
            or device.transferred_at is not None
        ):
            raise InvalidDeviceSecret(
                "This device and secret do not open a sign-in. Register the app again."
            )
        principal = Principal("device", device.id, frozenset({Role.RESIDENT}), uuid.uuid4())
        pair = _issue(principal, new_session=True)
    return pair


def sha256_hex(value: str) -> str:
    """The SHA-256 of a high-entropy secret or code, as stored in place of it (hex)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


_NO_SECRET_HASH = "0" * 64  # no SHA-256 of a secret is this, in practice


def login(email: str, password: str) -> TokenPair:
    """Sign in a staff or partner user with email and password."""
    with write():
        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            _verify(
                _dummy_hash(), password
            )  # same work as a real check: no user enumeration by timing
            raise InvalidCredentials("Email or password is wrong.")
        if not _verify(user.password_hash, password) or not user.active:
            raise InvalidCredentials("Email or password is wrong.")
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        pair = _issue(_user_principal(user, uuid.uuid4()), new_session=True)
        pair.user = user
    return pair


def refresh(claims: dict) -> TokenPair:
    """Spend a refresh token for a new pair; a token spent twice revokes its whole family."""
    with write():
        now = utcnow()
        session_id = uuid.UUID(claims["sid"])
        spent = db.session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.jti == uuid.UUID(claims["jti"]), RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        reused = spent.rowcount != 1
        if reused:  # the revocation is committed, then the caller is refused
            _revoke(session_id, "refresh_reuse", now)
        else:
            principal = load_principal(claims)
            if principal is None:
                raise Unauthorized("This sign-in has ended.")
            pair = _issue(principal, new_session=False)
    if reused:
        raise RefreshReused(
            "This refresh token was already used; every token from this sign-in is now revoked. Sign in again."
        )
    return pair


def logout(principal: Principal) -> None:
    """End the caller's sign-in: all its access and refresh tokens stop working now."""
    with write():
        _revoke(principal.session_id, "logout", utcnow())


def revoke_all_for_device(device_id: uuid.UUID, reason: str) -> None:
    """Revoke every sign-in of a device (part of a caller's transaction; does not commit)."""
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.device_id == device_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def end_device_continuity(device_id: uuid.UUID) -> None:
    """Erasure: the device's secret and transfer codes stop working, and the installs it
    took over are no longer linked to it (part of a caller's transaction; does not commit)."""
    db.session.execute(sa.update(Device).where(Device.id == device_id).values(secret_hash=None))
    db.session.execute(sa.delete(TransferCode).where(TransferCode.device_id == device_id))
    db.session.execute(
        sa.update(Device)
        .where(Device.transferred_to_id == device_id)
        .values(transferred_to_id=None)
    )


def load_principal(claims: dict) -> Principal | None:
    """The principal behind a token, or None when its sign-in is revoked or it is disabled.

    Runs on every authenticated request: it is what makes logout, refresh-reuse revocation and
    disabling a user take effect at once, whatever the token's expiry says.
    """
    try:
        session_id = uuid.UUID(claims["sid"])
        subject = uuid.UUID(claims["sub"])
        kind = claims["kind"]
    except (KeyError, ValueError, TypeError, AttributeError):  # AttributeError: not a string
        return None
    live = AuthSession.revoked_at.is_(None)
    if kind == "device":
        found = db.session.execute(
            sa.select(Device.id)
            .join(AuthSession, AuthSession.device_id == Device.id)
            .where(
                AuthSession.id == session_id,
                Device.id == subject,
                live,
                Device.erased_at.is_(None),
                Device.transferred_at.is_(None),
            )
        ).first()
        if found is None:
            return None
        return Principal("device", subject, frozenset({Role.RESIDENT}), session_id)
    if kind == "user":
        user = db.session.scalar(
            sa.select(User)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.id == session_id, User.id == subject, live, User.active.is_(True))
        )
        return None if user is None else _user_principal(user, session_id)
    return None


def _user_principal(user: User, session_id: uuid.UUID) -> Principal:
    return Principal("user", user.id, frozenset(user.roles or ()), session_id, user.partner_id)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _revoke(session_id: uuid.UUID, reason: str, now: datetime) -> None:
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


def _issue(principal: Principal, *, new_session: bool) -> TokenPair:
    """Mint an access and a refresh token for the principal's session (no commit)."""
    if new_session:
        db.session.add(
            AuthSession(
                id=principal.session_id,
                device_id=principal.id if principal.kind == "device" else None,
                user_id=principal.id if principal.kind == "user" else None,
            )
        )
    claims = {"sid": str(principal.session_id), "kind": principal.kind}
    access = create_access_token(
        identity=str(principal.id),
        additional_claims={
            **claims,
            "roles": sorted(principal.roles),
            **({"pid": str(principal.partner_id)} if principal.partner_id else {}),
        },
    )
    jti = uuid.uuid4()
    refresh_token = create_refresh_token(
        identity=str(principal.id), additional_claims={**claims, "jti": str(jti)}
    )
    lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    db.session.add(
        RefreshToken(
            jti=jti,
            session_id=principal.session_id,
            expires_at=utcnow() + lifetime,
        )
    )
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    return TokenPair(access, refresh_token, expires_in, principal)
