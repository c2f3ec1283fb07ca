"""The staff console under /console: server-rendered pages that call the same service
functions as the API, with the same roles.

Sign-in is a cookie session (``console.service``); every form is CSRF-protected (Flask-WTF's
``CSRFProtect``, checked here only, so the bearer-token API is unaffected); every page carries a
Content-Security-Policy of ``'self'`` only. A page declares who may open it with
``console_page``, which also records the policy for the route tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from copa.console import service
from copa.db import db
from copa.notifications import message_schemas
from copa.notifications import messages as resident_messages
from copa.periods import LONDON
from copa.review import queue as triage
from copa.review import schemas as review_schemas
from copa.review import service as review
from copa.routing import partner_admin
from copa.web import idempotency
from copa.web.access import POLICY_ATTR, Role
from copa.web.problems import Problem, flatten_messages

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
)


@blp.app_template_filter("london")
def london(moment: datetime | str | None) -> str:
    """A moment as Europe/London local time, e.g. 23 Nov 2026, 14:05."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(LONDON).strftime("%-d %b %Y, %H:%M")


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


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never an open redirect."""
    if target and target.startswith("/console") and not urlsplit(target).netloc:
        return target
    return url_for("console.queue")


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


@blp.route("/static/<path:filename>")
@public
def static(filename: str) -> Response:
    """The console's own stylesheet (and nothing from elsewhere: CSP 'self')."""
    return send_from_directory(STATIC, filename, max_age=3600)


# --- signing in and out ----------------------------------------------------------------------


@blp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "GET":
        return page("console/login.html", next=request.args.get("next", ""))
    csrf.protect()
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    try:
        service.sign_in(email, password)
    except service.NotStaff as refused:
        return page("console/login.html", 403, error=refused.detail, email=email)
    except Problem:
        return page("console/login.html", 401, error="Email or password is wrong.", email=email)
    return redirect(_safe_next(request.form.get("next")), 303)


@blp.route("/logout", methods=["POST"])
@console_page()
def logout():
    service.sign_out()
    flash("You have signed out.")
    return redirect(url_for("console.login"), 303)


@blp.route("/")
@console_page()
def home():
    """The first section the signed-in member of staff may open."""
    for endpoint, _, roles in NAV:
        if endpoint in current_app.view_functions and g.principal.has_any(frozenset(roles)):
            return redirect(url_for(endpoint), 303)
    return page("console/error.html", 403, message="Your role has no console pages.")


# --- the queue and reports --------------------------------------------------------------------


@blp.route("/queue")
@console_page(*QUEUE)
def queue():
    args = MultiDict((k, v) for k, v in request.args.items(multi=True) if v != "")
    data: dict[str, Any] = args.to_dict()
    if "status" in args:
        data["status"] = args.getlist("status")  # repeatable, as in the API
    try:
        query = review_schemas.QueueQuery().load(data)
    except ValidationError as error:
        return page(
            "console/queue.html",
            422,  # as the API answers a bad query
            results=None,
            errors=flatten_messages(error.messages),
            args=args,
            statuses=review_schemas.QUEUE_STATUSES,
            kinds=review_schemas.QUEUE_KINDS,
        )
    result = triage.staff_queue(g.principal, query)
    return page(
        "console/queue.html",
        results=result,
        errors={},
        args=args,
        statuses=review_schemas.QUEUE_STATUSES,
        kinds=review_schemas.QUEUE_KINDS,
    )


def _report_page(report_id: uuid.UUID, status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        db.session.rollback()  # a refused change leaves nothing behind, nor any lock held
    shown = review.staff_report(g.principal, report_id)
    report = review_schemas.StaffReportOut().dump(shown)
    return page(
        "console/report.html",
        status,
        report=report,
        partners=partner_admin.active_partners(),
        outcomes=review_schemas.REPORT_OUTCOMES,
        **context,
    )


@blp.route("/reports/<uuid:report_id>")
@console_page(*REVIEW)
def report(report_id: uuid.UUID):
    return _report_page(report_id)


@blp.route("/reports/<uuid:report_id>/transitions", methods=["POST"])
@console_page(*REVIEW)
def report_transition(report_id: uuid.UUID):
    try:
        payload = load_form(review_schemas.ReportTransitionIn(), request.form)
        review.transition_report(g.principal, report_id, payload)
    except ValidationError as error:
        return _report_page(report_id, 422, errors=flatten_messages(error.messages))
    except Problem as problem:
        if problem.status == 404:
            raise
        return _report_page(
            report_id, problem.status, errors=problem.errors or {"to": [problem.detail or ""]}
        )
    flash("Saved.")
    return redirect(url_for("console.report", report_id=report_id), 303)


@blp.route("/reports/<uuid:report_id>/notes", methods=["POST"])
@console_page(*REVIEW)
def report_note(report_id: uuid.UUID):
    try:
        payload = load_form(review_schemas.InternalNoteIn(), request.form)
    except ValidationError as error:
        return _report_page(report_id, 422, note_errors=flatten_messages(error.messages))
    review.add_report_note(g.principal, report_id, payload["text"])
    flash("Note added.")
    return redirect(url_for("console.report", report_id=report_id), 303)


@blp.route("/reports/<uuid:report_id>/messages", methods=["POST"])
@console_page(*REVIEW)
def report_message(report_id: uuid.UUID):
    """Ask the resident for more information, or send them a message (as the API does)."""
    try:
        payload = load_form(message_schemas.StaffMessageIn(), request.form)
        resident_messages.message_resident_on_report(g.principal, report_id, payload)
    except ValidationError as error:
        return _report_page(report_id, 422, message_errors=flatten_messages(error.messages))
    except Problem as problem:
        if problem.status == 404:
            raise
        return _report_page(
            report_id,
            problem.status,
            message_errors=problem.errors or {"text": [problem.detail or ""]},
        )
    flash("Sent to the resident.")
    return redirect(url_for("console.report", report_id=report_id), 303)


@blp.route(
    "/reports/<uuid:report_id>/messages/<uuid:resident_message_id>/pass-on", methods=["POST"]
)
@console_page(*REVIEW)
def report_message_pass_on(report_id: uuid.UUID, resident_message_id: uuid.UUID):
    """Let the report's partners read one of its messages (as the API does); once is enough."""
    resident_messages.pass_on_to_partner(g.principal, report_id, resident_message_id)
    flash("Passed on to the partner.")
    return redirect(url_for("console.report", report_id=report_id), 303)


@blp.route("/reports/<uuid:report_id>/photos/<uuid:photo_id>")
@console_page(*REVIEW)
def report_photo(report_id: uuid.UUID, photo_id: uuid.UUID):
    return review.staff_report_photo(g.principal, report_id, photo_id)


# The other sections register their pages on the same blueprint (imported last: they use the
# helpers above).
from copa.console import complaints, feedback, operations  # noqa: E402, F401
