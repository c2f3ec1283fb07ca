"""What every console page shares: the blueprint, sign-in and role checks (``console_page``),
CSRF, the security headers, navigation, rendering, form loading and the error pages.

The pages themselves are in ``views`` (sign-in, queue, reports), ``complaints``, ``feedback``,
``operations``, ``categories``, ``partners`` and ``routing``; each imports this module, never another page module.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

from copa.auth.models import User
from copa.console import service, words
from copa.db import db
from copa.periods import LONDON
from copa.web import idempotency
from copa.web.access import POLICY_ATTR, Principal, Role
from copa.web.problems import Problem

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
STATIC = Path(__file__).resolve().parent / "static"
csrf = CSRFProtect()

CONSOLE = "console"  # marks console pages for the route tests (cookie session, not bearer)
FORM_KEY = "form_key"  # a rendered form's idempotency key
_FORM_PLUMBING = frozenset({"csrf_token", FORM_KEY})
QUEUE = (Role.REVIEWER, Role.RESOLUTION, Role.ADMIN)
REVIEW = (Role.REVIEWER, Role.ADMIN)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@blp.record_once
def _setup(state) -> None:  # noqa: ANN001
    app = state.app
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the console checks its own forms
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # bounded by the session's own timeout
    csrf.init_app(app)


# The sections of the console, and who sees each in the navigation (the pages check again).
NAV = (
    ("console.queue", "Queue", QUEUE),
    ("console.complaints", "Complaint cases", (Role.RESOLUTION, Role.ADMIN)),
    ("console.deliveries", "Deliveries", REVIEW),
    ("console.tallies", "Counter tallies", (Role.REVIEWER, Role.ANALYST, Role.ADMIN)),
    ("console.call_statistics", "101 call statistics", (Role.ANALYST, Role.ADMIN)),
    ("console.pcc_report", "Quarterly report", (Role.ANALYST, Role.ADMIN)),
    ("console.maps", "Ward maps", (Role.ANALYST, Role.ADMIN)),
    ("console.categories", "Categories", (Role.ADMIN,)),
    ("console.partners", "Partners", (Role.ADMIN,)),
    ("console.routing_rules", "Routing rules", (Role.ADMIN,)),
    ("console.users", "Users", (Role.ADMIN,)),
    ("console.open311_clients", "Open311 clients", (Role.ADMIN,)),
    ("console.audit", "Audit log", (Role.ADMIN,)),
    ("console.targets", "Targets", (Role.ADMIN,)),
)


@blp.app_template_filter("london")
def london(moment: datetime | str | None) -> str:
    """A moment as Europe/London local time with its zone, e.g. 23 Nov 2026 14:05 GMT (BST in
    summer)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(LONDON).strftime("%-d %b %Y %H:%M %Z")


@blp.app_template_filter("duration")
def duration(seconds: int | float | None) -> str:
    """A length of time in words, to the minute: 2 days 3 hours, 5 hours 20 minutes."""
    if seconds is None:
        return ""
    minutes = max(int(seconds) // 60, 1)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(days, "day"), (hours, "hour")] + ([] if days else [(minutes, "minute")])
    shown = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return " ".join(shown) or "1 minute"


@blp.app_template_filter("status_words")
def status_words(code: str | None) -> str:
    return words.status(code)


@blp.app_template_filter("outcome_words")
def outcome_words(code: str | None) -> str:
    return words.outcome(code)


@blp.app_template_filter("plain_words")
def plain_words(code: str | None) -> str:
    return words.plain(code)


@blp.app_template_filter("audit_words")
def audit_words(action: str) -> str:
    return words.audit_action(action)


@blp.app_template_filter("role_words")
def role_words(codes: list[str] | str | None) -> str:
    return words.roles(codes)


@blp.app_template_filter("actor_kind_words")
def actor_kind_words(code: str | None) -> str:
    return words.actor_kind(code)


@blp.app_template_filter("changes")
def changes(
    event: Mapping[str, Any], named: Mapping[str, User] | None = None
) -> list[dict[str, str]]:
    """An audit event's before and after as rows; user ids (an assignee's, say) by name."""
    names = {key: user.display_name for key, user in (named or {}).items()}
    return words.changes(event.get("before"), event.get("after"), names)


def _user_ids(event: Mapping[str, Any]) -> Iterable[str]:
    """The user ids an audit event names: its actor's, a user it changed, and any ``..._id``
    value kept in it (the page looks each up; those of no user are left as they are)."""
    if event.get("actor_id"):
        yield str(event["actor_id"])
    if event.get("target_kind") == "user" and event.get("target_id"):
        yield str(event["target_id"])
    for side in (event.get("before") or {}, event.get("after") or {}):
        for key, value in side.items():
            if key.endswith("_id") and isinstance(value, str):
                yield value


def people(events: Iterable[Mapping[str, Any]]) -> dict[str, User]:
    """The users named in ``events`` (audit events as the API shows them), by id: the audit
    log keeps only an actor's id and roles, the page names the person."""
    ids = set()
    for event in events:
        for text in _user_ids(event):
            try:
                ids.add(uuid.UUID(text))
            except ValueError:
                continue
    if not ids:
        return {}
    found = db.session.scalars(sa.select(User).where(User.id.in_(ids)))
    return {str(user.id): user for user in found}


@blp.app_context_processor
def _navigation() -> dict[str, Any]:
    def console_links(principal) -> list[dict[str, str]]:  # noqa: ANN001
        return [
            {"url": url_for(endpoint), "label": label}
            for endpoint, label, roles in NAV
            if endpoint in current_app.view_functions and principal.has_any(frozenset(roles))
        ]

    def may(*roles: str) -> bool:
        principal = getattr(g, "principal", None)
        return principal is not None and principal.has_any(frozenset(roles))

    def form_fields() -> Markup:
        """A changing form's hidden fields: its CSRF token and its own idempotency key."""
        return Markup(
            '<input type="hidden" name="csrf_token" value="{}">'
            '<input type="hidden" name="{}" value="{}">'
        ).format(generate_csrf(), FORM_KEY, uuid.uuid4().hex)

    return {"console_links": console_links, "may": may, "form_fields": form_fields}


@blp.after_request
def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def console_page(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare who may open this page and enforce it: a signed-in staff member holding one of
    ``roles``. Anyone else is sent to sign in (303), or shown 403 when signed in."""
    policy = frozenset(roles)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = service.signed_in()
            if principal is None:
                return redirect(url_for("console.login", next=request.full_path), 303)
            g.principal = principal
            if request.method == "POST":
                csrf.protect()  # after sign-in: whoever is not signed in is sent there first
            if policy and not principal.has_any(policy):
                return page("console/error.html", 403, message="Your role does not allow this.")
            key = request.form.get(FORM_KEY) if request.method == "POST" else None
            if key:
                # Each rendered form carries its own key: sending it twice (a double click,
                # a resend after a lost answer) saves once and shows the first answer again.
                return idempotency.once(key, lambda: view(*args, **kwargs))
            return view(*args, **kwargs)

        setattr(wrapper, POLICY_ATTR, policy or frozenset({CONSOLE}))
        wrapper.__copa_console__ = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, principal=getattr(g, "principal", None), **context), status


def load_form(schema: Schema, form: Mapping[str, Any]) -> dict[str, Any]:
    """A form's fields through the API's own schema; empty fields count as not given."""
    data = {key: value for key, value in form.items() if value != "" and key not in _FORM_PLUMBING}
    return schema.load(data)


# Each role's own first page: the work it comes to the console for (the first that applies).
LANDING = (
    (Role.REVIEWER, "console.queue"),
    (Role.ADMIN, "console.queue"),
    (Role.RESOLUTION, "console.complaints"),
    (Role.ANALYST, "console.pcc_report"),
)


def landing(principal: Principal) -> str | None:
    """The endpoint of ``principal``'s first page, or None when no console page is theirs."""
    for role, endpoint in LANDING:
        if principal.has_any(frozenset({role})) and endpoint in current_app.view_functions:
            return endpoint
    for endpoint, _, roles in NAV:
        if endpoint in current_app.view_functions and principal.has_any(frozenset(roles)):
            return endpoint
    return None


def safe_next(target: str | None, principal: Principal) -> str:
    """Only a path of this console (never an open redirect); else the role's own first page."""
    if target and target.startswith("/console") and not urlsplit(target).netloc:
        return target
    endpoint = landing(principal)
    return url_for(endpoint) if endpoint else url_for("console.home")


@blp.errorhandler(Problem)
def _problem(error: Problem) -> tuple[str, int]:
    return page("console/error.html", error.status, message=error.detail or error.title)


@blp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    return page(
        "console/error.html", 400, message="The form had expired or was not ours. Try again."
    )


@blp.errorhandler(HTTPException)
def _http(error: HTTPException) -> tuple[str, int]:
    return page("console/error.html", error.code or 500, message=error.description)


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Declare a console route open to anyone (sign-in, the stylesheet)."""
    setattr(view, POLICY_ATTR, frozenset({"public"}))
    view.__copa_console__ = True  # type: ignore[attr-defined]
    return view
