"""Use cases of signing in: each function is one transaction and commits it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from copa.auth.models import AuthSession, Device, RefreshToken, User
from copa.db import begin_write, db, utcnow
from copa.web.access import Principal, Role
from copa.web.problems import Unauthorized, problem_type

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class InvalidCredentials(Unauthorized):
    type = problem_type("invalid-credentials")


class RefreshReused(Unauthorized):
    type = problem_type("refresh-token-reused")


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal
    token_type: str = "Bearer"
    user: User | None = field(default=None)

    @property
    def roles(self) -> list[str]:
        return sorted(self.principal.roles)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("an unused password that keeps timing even")


def register_device(platform: str | None = None, app_version: str | None = None) -> TokenPair:
    """Register a resident's app install and sign it in."""
    device = Device(platform=platform, app_version=app_version)
    db.session.add(device)
    db.session.flush()
    principal = Principal("device", device.id, frozenset({Role.RESIDENT}), uuid.uuid4())
    pair = _issue(principal, new_session=True)
    db.session.commit()
    return pair


def login(email: str, password: str) -> TokenPair:
    """Sign in a staff or partner user with email and password."""
    begin_write()
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        _verify(_dummy_hash(), password)  # same work as a real check: no user enumeration by timing
        raise InvalidCredentials("Email or password is wrong.")
    if not _verify(user.password_hash, password) or not user.active:
        raise InvalidCredentials("Email or password is wrong.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    pair = _issue(_user_principal(user, uuid.uuid4()), new_session=True)
    pair.user = user
    db.session.commit()
    return pair


def refresh(claims: dict) -> TokenPair:
    """Spend a refresh token for a new pair; a token spent twice revokes its whole family."""
    begin_write()
    now = utcnow()
    session_id = uuid.UUID(claims["sid"])
    spent = db.session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.jti == uuid.UUID(claims["jti"]), RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        _revoke(session_id, "refresh_reuse", now)
        db.session.commit()
        raise RefreshReused(
            "This refresh token was already used; every token from this sign-in is now revoked. Sign in again."
        )
    principal = load_principal(claims)
    if principal is None:
        raise Unauthorized("This sign-in has ended.")
    pair = _issue(principal, new_session=False)
    db.session.commit()
    return pair


def logout(principal: Principal) -> None:
    """End the caller's sign-in: all its access and refresh tokens stop working now."""
    begin_write()
    _revoke(principal.session_id, "logout", utcnow())
    db.session.commit()


def revoke_all_for_device(device_id: uuid.UUID, reason: str) -> None:
    """Revoke every sign-in of a device (part of a caller's transaction; does not commit)."""
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.device_id == device_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
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
    except (KeyError, ValueError, TypeError):
        return None
    live = AuthSession.revoked_at.is_(None)
    if kind == "device":
        found = db.session.execute(
            sa.select(Device.id)
            .join(AuthSession, AuthSession.device_id == Device.id)
            .where(
                AuthSession.id == session_id, Device.id == subject, live, Device.erased_at.is_(None)
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
        return _hasher.verify(password_hash, password)
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
