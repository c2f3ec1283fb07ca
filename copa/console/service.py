"""Console sign-in: a cookie session over the same sign-in sessions as the API's tokens.

Signing in runs the API's ``login`` (password check, an ``AuthSession`` row); the cookie holds
only the session's ids. Every request re-reads the principal through ``load_principal``, so
signing out anywhere, disabling the user or revoking the session ends the console session at
once, and the roles used are the database's, not the cookie's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, g, session

from copa.auth.service import load_principal, login, logout
from copa.db import utcnow
from copa.settings import settings
from copa.web.access import STAFF_ROLES, Principal
from copa.web.problems import Unauthorized

_KEY = "console"


class NotStaff(Unauthorized):
    """A partner user (or anyone without a staff role): the console is for OPCC staff."""


def sign_in(email: str, password: str) -> Principal:
    """Check the password (as the API does) and start a console session for a staff user."""
    pair = login(email, password)
    principal = pair.principal
    if not principal.has_any(STAFF_ROLES):
        logout(principal)
        raise NotStaff("The console is for OPCC staff; partners use the partner API.")
    session.clear()  # a new session for a new sign-in (no fixation), with a new CSRF token
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)
    session.permanent = True
    now = utcnow().isoformat()
    session[_KEY] = {
        "sub": str(principal.id),
        "sid": str(principal.session_id),
        "kind": principal.kind,
        "since": now,
        "seen": now,
    }
    return principal


def signed_in() -> Principal | None:
    """The console's principal for this request, or None (never signed in, timed out, signed
    out elsewhere, disabled, or no longer staff)."""
    claims = session.get(_KEY)
    if not isinstance(claims, dict):
        return None
    now = utcnow()
    config = settings()
    try:
        since = datetime.fromisoformat(claims["since"])
        seen = datetime.fromisoformat(claims["seen"])
    except (KeyError, TypeError, ValueError):
        session.clear()
        return None
    idle = timedelta(minutes=config.console_idle_minutes)
    longest = timedelta(hours=config.console_session_hours)
    principal = load_principal(claims)
    if principal is None or not principal.has_any(STAFF_ROLES):
        session.clear()
        return None
    if now - seen > idle or now - since > longest:
        logout(principal)
        session.clear()
        return None
    claims["seen"] = now.isoformat()
    session.modified = True
    return principal


def sign_out() -> None:
    principal = signed_in()
    if principal is not None:
        logout(principal)
    session.clear()
