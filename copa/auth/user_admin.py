"""The admins' management of staff and partner users: roles, partner, active, password;
there is always one active admin left. Each function that writes is one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from copa.audit.service import Actor, record
from copa.auth.models import AuthSession, User
from copa.auth.service import hash_password
from copa.db import db, utcnow, write
from copa.web.access import STAFF_ROLES, Principal, Role
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, Unprocessable, problem_type


class UserNotFound(NotFound):
    type = problem_type("user-not-found")


class EmailTaken(Conflict):
    type = problem_type("email-taken")


class InvalidUser(Unprocessable):
    type = problem_type("invalid-user")


class LastActiveAdmin(Conflict):
    type = problem_type("last-active-admin")


_AUDITED_USER_FIELDS = ("display_name", "email", "roles", "partner_id", "active")


def create_user(principal: Principal, payload: Mapping[str, Any]) -> User:
    """Add a staff or partner user (409 when the email is taken); audited as user.create."""
    try:
        with write():
            email = payload["email"].strip().lower()
            roles = _normalised_roles(payload["roles"])
            _check_user(roles, payload.get("partner_id"))
            if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
                raise _email_taken()
            user = User(
                id=uuid.uuid4(),
                email=email,
                display_name=payload["display_name"],
                password_hash=hash_password(payload["password"]),
                roles=roles,
                partner_id=payload.get("partner_id"),
                active=True,
            )
            db.session.add(user)
            record(Actor.of(principal), "user.create", "user", user.id, after=_user_summary(user))
    except IntegrityError as error:  # a concurrent create took the email first
        raise _email_taken() from error
    return user


def list_users(query: Mapping[str, Any]) -> PageResult:
    """Users by email, optionally of one role, state or partner, or whose email contains a text."""
    statement = sa.select(User).order_by(User.email, User.id)
    if query.get("role") is not None:
        # Roles are a JSON list of known words: match the quoted word in its text.
        statement = statement.where(
            sa.cast(User.roles, sa.Text).contains(f'"{query["role"]}"', autoescape=True)
        )
    if query.get("active") is not None:
        statement = statement.where(User.active.is_(query["active"]))
    if query.get("partner_id") is not None:
        statement = statement.where(User.partner_id == query["partner_id"])
    if query.get("email"):
        statement = statement.where(
            sa.func.lower(User.email).contains(query["email"].lower(), autoescape=True)
        )
    return paginate(statement, query["page"], query["page_size"])


def get_user(user_id: uuid.UUID) -> User:
    """One user; 404 when there is none with that id."""
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound("No such user.")
    return user


def update_user(principal: Principal, user_id: uuid.UUID, changes: Mapping[str, Any]) -> User:
    """Change a user's name, roles, partner, state or password; audited as user.update.

    Disabling a user or setting a new password ends every sign-in of theirs in the same
    transaction. A change that would leave no active admin is a 409.
    """
    with write():
        user = get_user(user_id)
        if _is_admin(user.roles, user.active) and ("roles" in changes or "active" in changes):
            _lock_active_users()  # and read them again, this user included
        roles = (
            _normalised_roles(changes["roles"]) if "roles" in changes else list(user.roles or [])
        )
        active = changes.get("active", user.active)
        if _is_admin(user.roles, user.active) and not _is_admin(roles, active):
            _refuse_last_admin(user)
        partner_id = changes.get("partner_id", user.partner_id)
        _check_user(roles, partner_id)

        before = _user_summary(user)
        if "display_name" in changes:
            user.display_name = changes["display_name"]
        user.roles = roles  # a new list: the JSON column sees the change
        user.partner_id = partner_id
        user.active = active
        after = _user_summary(user)
        now = utcnow()
        if before["active"] and not active:
            revoke_all_for_user(user.id, "disabled", now)
        if changes.get("password") is not None:
            user.password_hash = hash_password(changes["password"])
            revoke_all_for_user(user.id, "password_changed", now)
            after["password_changed"] = True
        user.updated_at = now  # also when only the password or sessions changed
        record(Actor.of(principal), "user.update", "user", user.id, before=before, after=after)
    return user


def revoke_all_for_user(user_id: uuid.UUID, reason: str, now: datetime | None = None) -> None:
    """Revoke every sign-in of a user (part of a caller's transaction; does not commit)."""
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason)
    )


def _normalised_roles(roles: list[str]) -> list[str]:
    return sorted({str(role) for role in roles})


def _is_admin(roles: list[str] | None, active: bool) -> bool:
    return bool(active) and Role.ADMIN in (roles or ())


def _check_user(roles: list[str], partner_id: uuid.UUID | None) -> None:
    """Refuse a user that could not work: staff roles only, or exactly partner with a partner."""
    errors: dict[str, list[str]] = {}
    if not roles:
        errors["roles"] = ["Give at least one role."]
    elif Role.PARTNER in roles:
        if roles != [Role.PARTNER]:
            errors["roles"] = ["A partner user has exactly the role partner and no staff role."]
        elif partner_id is None:
            errors["partner_id"] = ["Required for a partner user: their organisation."]
        elif not _partner_exists(partner_id):
            errors["partner_id"] = ["No partner with this id."]
    elif not set(roles) <= STAFF_ROLES:
        errors["roles"] = [f"Staff roles are: {', '.join(sorted(STAFF_ROLES))}."]
    elif partner_id is not None:
        errors["partner_id"] = ["Staff users belong to no partner: leave this out (or null)."]
    if errors:
        raise InvalidUser(
            "The user is not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )


def _partner_exists(partner_id: uuid.UUID) -> bool:
    """Whether a partner has this id. Partners belong to routing, a feature above auth: their
    class is reached through the user's ``partner`` relationship (named by string in
    auth/models.py), never imported."""
    partner = User.partner.property.mapper.class_
    return db.session.get(partner, partner_id) is not None


def _lock_active_users() -> None:
    """Lock every active user's row (PostgreSQL; SQLite's write lock is already held) and
    read them again: two admins disabling each other at the same moment then go one after
    the other, and the second sees the first's change."""
    db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def _refuse_last_admin(user: User) -> None:
    """409 unless another active admin remains when ``user`` stops being one."""
    others = db.session.scalars(
        sa.select(User).where(User.active.is_(True), User.id != user.id)
    ).all()
    if not any(_is_admin(other.roles, other.active) for other in others):
        raise LastActiveAdmin(
            "This would leave no active admin: give another user the admin role first."
        )


def _user_summary(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user: never the password or its hash."""
    summary = {name: getattr(user, name) for name in _AUDITED_USER_FIELDS}
    summary["roles"] = sorted(user.roles or [])
    return summary


def _email_taken() -> EmailTaken:
    return EmailTaken(
        "A user with this email exists already.",
        errors={"email": ["Already used by another user."]},
    )
