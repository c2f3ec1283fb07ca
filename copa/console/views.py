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
    flash,
    g,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.areas import service as areas
from copa.audit.schemas import InternalNoteIn
from copa.auth.schemas import AssignmentIn
from copa.catalog import service as catalog

# The other sections register their pages on the same blueprint when imported.
from copa.console import (  # noqa: F401
    audit_log,
    categories,
    complaints,
    feedback,
    maps,
    open311_clients,
    operations,
    partners,
    routing,
    service,
    targets,
    users,
    words,
)
from copa.console.pages import (
    QUEUE,
    REVIEW,
    STATIC,
    blp,
    console_page,
    csrf,
    landing,
    load_form,
    page,
    people,
    public,
    safe_next,
)
from copa.db import abandon, write
from copa.messages import schemas as message_schemas
from copa.messages import service as resident_messages
from copa.reports import videos
from copa.reports.photos import PhotoNotFound
from copa.reports.workflow import REPORT_OUTCOMES
from copa.review import queue as triage
from copa.review import schemas as review_schemas
from copa.review import service as review
from copa.routing import partner_admin
from copa.web.problems import Problem, flatten_messages
from copa.web.responses import private_file, private_image


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
        principal = service.sign_in(email, password)
    except service.NotStaff as refused:
        return page("console/login.html", 403, error=refused.detail, email=email)
    except Problem:
        return page("console/login.html", 401, error="Email or password is wrong.", email=email)
    return redirect(safe_next(request.form.get("next"), principal), 303)


@blp.route("/logout", methods=["POST"])
@console_page()
def logout():
    service.sign_out()
    flash("You have signed out.")
    return redirect(url_for("console.login"), 303)


@blp.route("/")
@console_page()
def home():
    """The signed-in member of staff's own first page."""
    endpoint = landing(g.principal)
    if endpoint:
        return redirect(url_for(endpoint), 303)
    return page("console/error.html", 403, message="Your role has no console pages.")


# --- the queue and reports --------------------------------------------------------------------


# What the queue shows unless asked for more: what still needs someone (the API lists all).
OPEN_STATUSES = [status for status in review_schemas.QUEUE_STATUSES if status not in triage.SETTLED]
ANY_STATUS = "any"


@blp.route("/queue")
@console_page(*QUEUE)
def queue():
    """Open items by default; "any" status shows the settled ones too."""
    args = MultiDict((k, v) for k, v in request.args.items(multi=True) if v != "")
    data: dict[str, Any] = args.to_dict()
    chosen = args.getlist("status")
    if chosen == [ANY_STATUS]:
        data.pop("status")
    elif chosen:
        data["status"] = chosen  # repeatable, as in the API
    else:
        data["status"] = OPEN_STATUSES
    choices = {
        "statuses": review_schemas.QUEUE_STATUSES,
        "kinds": review_schemas.QUEUE_KINDS,
        "categories": catalog.list_categories(),
        "authorities": areas.list_authorities(),
    }
    try:
        query = review_schemas.QueueQuery().load(data)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
        # as the API answers a bad query
        return page("console/queue.html", 422, results=None, errors=errors, args=args, **choices)
    result = triage.staff_queue(g.principal, query)
    return page("console/queue.html", results=result, errors={}, args=args, **choices)


def _report_page(report_id: uuid.UUID, status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()  # a refused change leaves nothing behind, nor any lock held
    shown = review.staff_report(g.principal, report_id)
    report = review_schemas.StaffReportOut().dump(shown)
    return page(
        "console/report.html",
        status,
        report=report,
        # The questions as the resident was asked them (a copy kept with the report), not as
        # an admin may have changed them since.
        answers=words.answers(
            shown.questions_asked
            if shown.questions_asked is not None
            else catalog.questions_of(shown.category),
            report.get("answers"),
        ),
        partners=partner_admin.active_partners(),
        assignees=[
            {"id": str(user.id), "name": user.display_name}
            for user in review.report_assignees()
            if user.id != g.principal.id
        ],
        outcomes=REPORT_OUTCOMES,
        report_map=maps.report_map(report),
        people=people(report["audit"]),
        **context,
    )


@blp.route("/reports/<uuid:report_id>")
@console_page(*REVIEW)
def report(report_id: uuid.UUID):
    return _report_page(report_id)


# The decision form's fields that only go with a change of status.
_WITH_A_MOVE = {
    "partner_id": "Choose the new status (refer to a partner) to go with a partner.",
    "outcome": "Choose the new status to go with an outcome.",
    "duplicate_of": "Choose the new status (duplicate) to go with an original report.",
}


@blp.route("/reports/<uuid:report_id>/transitions", methods=["POST"])
@console_page(*REVIEW)
def report_transition(report_id: uuid.UUID):
    """Save a decision. "No change" with a note keeps the status: the note for the resident
    goes to them as a message (nothing about a status change), the internal note is kept."""
    form = request.form
    try:
        if form.get("to", "") == "":
            saved = _notes_only(report_id, form)
        else:
            fields = dict(form)
            if fields.get("duplicate_of"):
                fields["duplicate_of"] = _report_id_of(fields["duplicate_of"])
            payload = load_form(review_schemas.ReportTransitionIn(), fields)
            review.transition_report(g.principal, report_id, payload)
            saved = "Saved."
    except ValidationError as error:
        return _report_page(report_id, 422, errors=flatten_messages(error.messages), form=form)
    except Problem as problem:
        if problem.status == 404:
            raise
        errors = problem.errors or {"to": [problem.detail or ""]}
        return _report_page(report_id, problem.status, errors=errors, form=form)
    flash(saved)
    return redirect(url_for("console.report", report_id=report_id), 303)


def _report_id_of(given: str) -> str:
    """The original report of a duplicate, as staff know it: its reference (or its id)."""
    given = given.strip()
    try:
        return str(uuid.UUID(given))
    except ValueError:
        pass
    found = review.report_id_by_reference(given.upper())
    if found is None:
        raise ValidationError({"duplicate_of": [f"No report has the reference {given}."]})
    return str(found)


def _notes_only(report_id: uuid.UUID, form: Any) -> str:
    errors = {name: [message] for name, message in _WITH_A_MOVE.items() if form.get(name)}
    public_note = form.get("public_note", "").strip()
    internal_note = form.get("internal_note", "").strip()
    if not public_note and not internal_note and not errors:
        errors["to"] = ["Choose a new status, or write a note."]
    if errors:
        raise ValidationError(errors)
    message = note = None
    try:
        if public_note:
            message = message_schemas.StaffMessageIn().load(
                {"kind": "message", "text": public_note}
            )
    except ValidationError as error:
        raise ValidationError({"public_note": flatten_messages(error.messages)["text"]}) from None
    try:
        if internal_note:
            note = InternalNoteIn().load({"text": internal_note})
    except ValidationError as error:
        raise ValidationError({"internal_note": flatten_messages(error.messages)["text"]}) from None
    with write():  # both notes, or neither
        if message:
            resident_messages.message_resident_on_report(g.principal, report_id, message)
        if note:
            review.add_report_note(g.principal, report_id, note["text"])
    if message and note:
        return "Status unchanged. The note was sent to the resident and the internal note kept."
    if message:
        return "Status unchanged. The note was sent to the resident as a message."
    return "Status unchanged. The internal note was kept."


@blp.route("/reports/<uuid:report_id>/assignment", methods=["POST"])
@console_page(*REVIEW)
def report_assign(report_id: uuid.UUID):
    """Take a report (assignee=me), give it to another reviewer or admin (their id) or give it
    back (assignee=none), as the API does."""
    chosen = request.form.get("assignee", "")
    if chosen == "me":
        chosen = str(g.principal.id)
    try:
        payload = AssignmentIn().load({"assignee_id": None if chosen == "none" else chosen})
        shown = review.assign_report(g.principal, report_id, payload["assignee_id"])
    except ValidationError as error:
        return _report_page(report_id, 422, assign_errors=flatten_messages(error.messages))
    except Problem as problem:
        if problem.status == 404:
            raise
        errors = problem.errors or {"assignee_id": [problem.detail or ""]}
        return _report_page(report_id, problem.status, assign_errors=errors)
    if shown.assignee is None:
        flash("Report unassigned.")
    elif shown.assignee.id == g.principal.id:
        flash("Report assigned to you.")
    else:
        flash(f"Report assigned to {shown.assignee.display_name}.")
    return redirect(url_for("console.report", report_id=report_id), 303)


@blp.route("/reports/<uuid:report_id>/redactions", methods=["POST"])
@console_page(*REVIEW)
def report_redact(report_id: uuid.UUID):
    """Replace the description, or withdraw a photo, with a reason (as the API does)."""
    form = request.form
    what = form.get("what", "description")
    fields: dict[str, Any] = {"reason": form.get("reason", "")}
    if what == "description":
        fields["description"] = form.get("description", "")
    else:
        fields["photo_id"] = what
    try:
        payload = load_form(review_schemas.ReportRedactionIn(), fields)
        review.redact_report(g.principal, report_id, payload)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
        if "photo_id" in errors:
            errors["what"] = errors.pop("photo_id")
        return _report_page(report_id, 422, redact_errors=errors, redact_form=form)
    except Problem as problem:
        if problem.status == 404 and not isinstance(problem, PhotoNotFound):
            raise
        errors = problem.errors or {"what": [problem.detail or ""]}
        return _report_page(report_id, problem.status, redact_errors=errors, redact_form=form)
    flash("Redacted. The original is kept in the audit trail, for admins only.")
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


@blp.route("/reports/<uuid:report_id>/videos/<uuid:video_id>")
@console_page(*REVIEW)
def report_video(report_id: uuid.UUID, video_id: uuid.UUID):
    found = videos.staff_video(report_id, video_id)
    return private_file(found.source, found.content_type)


@blp.route("/reports/<uuid:report_id>/videos/<uuid:video_id>/poster")
@console_page(*REVIEW)
def report_video_poster(report_id: uuid.UUID, video_id: uuid.UUID):
    found = videos.staff_video(report_id, video_id, poster=True)
    return private_file(found.source, found.content_type)


@blp.route("/reports/<uuid:report_id>/photos/<uuid:photo_id>")
@console_page(*REVIEW)
def report_photo(report_id: uuid.UUID, photo_id: uuid.UUID):
    photo = review.staff_report_photo(g.principal, report_id, photo_id)
    return private_image(photo.data, photo.content_type)
