"""Console pages of staff and partner users (admins only): list, add, change roles, disable or
enable, set a new password.

Each page calls the service behind /v1/admin/users (copa.auth.user_admin) through the API's own
input schemas, so the same rules hold here: there is always one active admin left, disabling a
user or giving them a new password ends every sign-in of theirs at once, and every change is
audited. A refused form comes back with what was typed, except any password, which is never
written back into a page.

Password reset: the admin types the new password (12 characters or more) and tells the user by
their own means. The console does not make one up and show it: there is no way yet for a user to
change their own password, so a "temporary" one would stay for good, and a page that shows a
password once is a page that can leak it (a screen share, a stored answer).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.auth import schemas as auth_schemas
from copa.auth import user_admin
from copa.console.pages import blp, console_page, load_form, page
from copa.db import abandon
from copa.routing import partner_admin
from copa.web.access import STAFF_ROLES, USER_ROLES, Role
from copa.web.problems import Problem, flatten_messages

USERS = (Role.ADMIN,)  # as /v1/admin/users
PAGE_SIZE = 50
STAFF = sorted(str(role) for role in STAFF_ROLES)
ROLE_HINTS = {
    "reviewer": "reviews reports and routes them",
    "resolution": "handles complaints and other feedback",
    "analyst": "reads the figures and the quarterly report",
    "admin": "manages users, categories, partners and settings",
}
FIELD_LABELS = {
    "email": "Email",
    "display_name": "Name",
    "password": "Password",
    "roles": "Roles",
    "partner_id": "Partner",
    "kind": "Kind of user",
    "active": "Signing in",
    "_body": "User",
}
_NO_PARTNER = "Choose the partner organisation this user works for."


def _payload(form: MultiDict) -> dict[str, Any]:
    """The form as the API's JSON: a staff user's ticked roles, or a partner user's one role
    and partner."""
    data: dict[str, Any] = {
        key: form.get(key, "") for key in ("email", "display_name", "password") if key in form
    }
    if form.get("kind") == "partner":
        data["roles"] = [Role.PARTNER]
        data["partner_id"] = form.get("partner_id", "")
    else:
        data["roles"] = [role for role in form.getlist("roles") if role]
    return data


def _kept(form: MultiDict) -> dict[str, Any]:
    """What a refused form shows again: everything typed except the password."""
    return {
        "email": form.get("email", ""),
        "display_name": form.get("display_name", ""),
        "kind": form.get("kind", "staff"),
        "roles": form.getlist("roles"),
        "partner_id": form.get("partner_id", ""),
    }


def _form_of(user: Any) -> dict[str, Any]:
    partner = Role.PARTNER in (user.roles or [])
    return {
        "email": user.email,
        "display_name": user.display_name,
        "kind": "partner" if partner else "staff",
        "roles": [] if partner else list(user.roles or []),
        "partner_id": str(user.partner_id or ""),
    }


def _refusal(error: ValidationError | Problem) -> dict[str, list[str]]:
    if isinstance(error, ValidationError):
        messages = flatten_messages(error.messages)
    else:
        messages = dict(error.errors or {}) or {"_body": [error.detail or error.title or ""]}
    shown: dict[str, list[str]] = {}
    for key, texts in messages.items():
        name = key.split(".")[0]
        if name == "partner_id" and any("Not a valid UUID" in text for text in texts):
            texts = [_NO_PARTNER]
        if name == "roles" and any(text.startswith("Length must be") for text in texts):
            texts = ["Tick at least one role."]
        shown.setdefault(name if name in FIELD_LABELS else "_body", []).extend(texts)
    return shown


def _partners() -> list[Any]:
    return partner_admin.active_partners()


# --- the list -------------------------------------------------------------------------------


@blp.route("/users")
@console_page(*USERS)
def users():
    """Users by email, of one role or state (GET /v1/admin/users)."""
    args = MultiDict((k, v) for k, v in request.args.items(multi=True) if v != "")
    data: dict[str, Any] = {"page_size": PAGE_SIZE, **args.to_dict()}
    try:
        query = auth_schemas.UserQuery().load(data)
    except ValidationError as error:
        return page(
            "console/users.html",
            422,
            results=None,
            errors=flatten_messages(error.messages),
            args=args,
            roles=sorted(str(role) for role in USER_ROLES),
        )
    results = user_admin.list_users(query)
    partners = {str(partner.id): partner.name for partner in _partners()}
    return page(
        "console/users.html",
        results=results,
        errors={},
        args=args,
        roles=sorted(str(role) for role in USER_ROLES),
        partners=partners,
    )


# --- adding a user --------------------------------------------------------------------------


def _new_page(status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()  # nothing of a refused user stays
    context.setdefault("form", {"kind": "staff", "roles": []})
    context.setdefault("errors", {})
    return page(
        "console/user_new.html",
        status,
        staff_roles=STAFF,
        role_hints=ROLE_HINTS,
        partners=_partners(),
        labels=FIELD_LABELS,
        **context,
    )


@blp.route("/users/new")
@console_page(*USERS)
def user_new():
    return _new_page()


@blp.route("/users", methods=["POST"])
@console_page(*USERS)
def user_create():
    """Add a staff or partner user (POST /v1/admin/users)."""
    try:
        payload = load_form(auth_schemas.UserIn(), _payload(request.form))
        user = user_admin.create_user(g.principal, payload)
    except (ValidationError, Problem) as error:
        if isinstance(error, Problem) and error.status not in (409, 422):
            raise
        status = 422 if isinstance(error, ValidationError) else error.status
        return _new_page(status, form=_kept(request.form), errors=_refusal(error))
    flash(f"Added {user.display_name} ({user.email}). They sign in with the password you set.")
    return redirect(url_for("console.user", user_id=user.id), 303)


# --- one user -------------------------------------------------------------------------------


def _user_page(user_id: uuid.UUID, status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()  # a refused change leaves nothing behind, nor any lock held
    found = user_admin.get_user(user_id)
    context.setdefault("form", _form_of(found))
    context.setdefault("errors", {})
    context.setdefault("failed", "")
    partners = _partners()
    return page(
        "console/user.html",
        status,
        user=found,
        partner_name=next(
            (partner.name for partner in partners if partner.id == found.partner_id), None
        ),
        staff_roles=STAFF,
        role_hints=ROLE_HINTS,
        partners=partners,
        labels=FIELD_LABELS,
        **context,
    )


@blp.route("/users/<uuid:user_id>")
@console_page(*USERS)
def user(user_id: uuid.UUID):
    """One user (GET /v1/admin/users/{id}), with the forms that change them."""
    return _user_page(user_id)


def _change(
    user_id: uuid.UUID, data: Mapping[str, Any], failed: str, done: str, kept: dict | None = None
):  # noqa: ANN202
    """Send ``data`` through the API's PATCH schema and service; on success back to the user
    (303) with ``done``, else their page again with the refusal on the form ``failed``."""
    try:
        changes = load_form(auth_schemas.UserPatchIn(), data)
        user_admin.update_user(g.principal, user_id, changes)
    except (ValidationError, Problem) as error:
        if isinstance(error, Problem) and error.status not in (409, 422):
            raise
        status = 422 if isinstance(error, ValidationError) else error.status
        extra = {"form": kept} if kept is not None else {}
        return _user_page(user_id, status, errors=_refusal(error), failed=failed, **extra)
    flash(done)
    return redirect(url_for("console.user", user_id=user_id), 303)


@blp.route("/users/<uuid:user_id>", methods=["POST"])
@console_page(*USERS)
def user_update(user_id: uuid.UUID):
    """Change a user's name, roles or partner (PATCH /v1/admin/users/{id})."""
    form = request.form
    data = _payload(form)
    data["display_name"] = form.get("display_name", "")
    data.pop("email", None)  # shown, not changed here
    data.pop("password", None)  # its own form
    if form.get("kind") != "partner":
        data["partner_id"] = None  # a staff user belongs to no partner
    kept = {**_kept(form), "email": user_admin.get_user(user_id).email}
    return _change(user_id, data, "details", "Saved. New roles apply from their next page.", kept)


@blp.route("/users/<uuid:user_id>/password", methods=["POST"])
@console_page(*USERS)
def user_password(user_id: uuid.UUID):
    """Set a new password (PATCH /v1/admin/users/{id} password); every sign-in of the user
    ends at once."""
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        return _user_page(
            user_id,
            422,
            errors={"password": ["The two passwords differ: type the same one twice."]},
            failed="password",
        )
    return _change(
        user_id,
        {"password": password},
        "password",
        "New password set. They were signed out everywhere; tell them the new one yourself.",
    )


@blp.route("/users/<uuid:user_id>/disable", methods=["POST"])
@console_page(*USERS)
def user_disable(user_id: uuid.UUID):
    """Stop a user signing in (PATCH active: false); their sign-ins end at once."""
    return _change(
        user_id,
        {"active": False},
        "active",
        "Disabled: they were signed out everywhere and cannot sign in.",
    )


@blp.route("/users/<uuid:user_id>/enable", methods=["POST"])
@console_page(*USERS)
def user_enable(user_id: uuid.UUID):
    """Let a disabled user sign in again (PATCH active: true)."""
    return _change(user_id, {"active": True}, "active", "Enabled: they can sign in again.")
