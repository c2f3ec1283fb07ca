"""The staff console under /console: server-rendered pages that call the same service
functions as the API, with the same roles.

Sign-in is a cookie session (``console.service``); every form is CSRF-protected (Flask-WTF's
``CSRFProtect``, checked here only, so the bearer-token API is unaffected); every page carries a
Content-Security-Policy of ``'self'`` only. A page declares who may open it with
``console_page``, which also records the policy for the route tests.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.audit.schemas import InternalNoteIn

# The other sections register their pages on the same blueprint when imported.
from copa.console import categories, complaints, feedback, operations, service  # noqa: F401
from copa.console.pages import (
    NAV,
    QUEUE,
    REVIEW,
    STATIC,
    blp,
    console_page,
    csrf,
    load_form,
    page,
    public,
    safe_next,
)
from copa.db import abandon
from copa.messages import schemas as message_schemas
from copa.messages import service as resident_messages
from copa.reports.workflow import REPORT_OUTCOMES
from copa.review import queue as triage
from copa.review import schemas as review_schemas
from copa.review import service as review
from copa.routing import partner_admin
from copa.web.problems import Problem, flatten_messages
from copa.web.responses import private_image


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
    return redirect(safe_next(request.form.get("next")), 303)


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
        abandon()  # a refused change leaves nothing behind, nor any lock held
    shown = review.staff_report(g.principal, report_id)
    report = review_schemas.StaffReportOut().dump(shown)
    return page(
        "console/report.html",
        status,
        report=report,
        partners=partner_admin.active_partners(),
        outcomes=REPORT_OUTCOMES,
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
        payload = load_form(InternalNoteIn(), request.form)
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
    photo = review.staff_report_photo(g.principal, report_id, photo_id)
    return private_image(photo.data, photo.content_type)
