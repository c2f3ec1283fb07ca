"""Console pages of the Resolution Team's complaint cases.

The same service functions, input schemas and roles (resolution, admin) as the API under
``/v1/staff/complaints``: the list with its filters, a case in full, and one form per thing the
team does to a case (first contact, service-recovery action, allegation, escalation,
resolution, closing, assignment, internal note). A form that fails re-renders the case with
the error next to its field, with the status the API would give (422, or 409 for a move the
workflow does not allow).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.audit.schemas import InternalNoteIn
from copa.auth.schemas import AssignmentIn
from copa.console.pages import blp, console_page, load_form, page
from copa.db import abandon
from copa.feedback import schemas
from copa.feedback import service as feedback
from copa.feedback.models import AllegationGroup, ComplaintState, ServiceRecoveryKind
from copa.feedback.workflow import COMPLAINT_OUTCOMES
from copa.messages import schemas as message_schemas
from copa.messages import service as resident_messages
from copa.periods import LONDON
from copa.web.access import Role
from copa.web.problems import Problem, flatten_messages

CASE_HOLDERS = (Role.RESOLUTION, Role.ADMIN)  # as the API's /v1/staff/complaints
STATES = [state.value for state in ComplaintState]
GROUPS = [group.value for group in AllegationGroup]
ACTION_KINDS = [kind.value for kind in ServiceRecoveryKind]


@blp.app_template_filter("elapsed")
def elapsed(seconds: int | None) -> str:
    """A duration in words, e.g. 1 day, 2 hours and 30 minutes."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = seconds // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{count} {unit}{'' if count == 1 else 's'}"
        for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if count
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --- the list ---------------------------------------------------------------------------------


@blp.route("/complaints")
@console_page(*CASE_HOLDERS)
def complaints():
    args = MultiDict((k, v) for k, v in request.args.items(multi=True) if v != "")
    data: dict[str, Any] = args.to_dict()
    if "state" in args:
        data["state"] = args.getlist("state")  # repeatable, as in the API
    context = {"args": args, "states": STATES, "groups": GROUPS}
    try:
        query = schemas.ComplaintQuery().load(data)
    except ValidationError as error:
        return page(
            "console/complaints.html",
            422,
            results=None,
            errors=flatten_messages(error.messages),
            **context,
        )
    result = feedback.list_complaints(g.principal, query)
    result.items = schemas.ComplaintSummaryOut(many=True).dump(result.items)
    return page("console/complaints.html", results=result, errors={}, **context)


# --- one case ---------------------------------------------------------------------------------


def _case_page(
    case_id: uuid.UUID, status: int = 200, *, failed: str | None = None, **context: Any
) -> tuple[str, int]:
    """The case page; ``failed`` names the form whose ``errors`` (and ``form`` values) to show."""
    case = schemas.ComplaintOut().dump(feedback.get_complaint(case_id))
    return page(
        "console/complaint.html",
        status,
        case=case,
        failed=failed,
        errors=context.pop("errors", {}),
        form=context.pop("form", {}),
        groups=GROUPS,
        action_kinds=ACTION_KINDS,
        outcomes=COMPLAINT_OUTCOMES,
        recovery_states=[str(state) for state in feedback.SERVICE_RECOVERY_STATES],
        **context,
    )


@blp.route("/complaints/<uuid:case_id>")
@console_page(*CASE_HOLDERS)
def complaint(case_id: uuid.UUID):
    return _case_page(case_id)


def _act(
    case_id: uuid.UUID,
    form_name: str,
    schema: Any,
    data: Mapping[str, Any],
    act: Any,
    done: str,
    fallback_field: str,
):
    """Load ``data`` through the API's ``schema``, hand it to the service function ``act``;
    on success back to the case (303) with ``done``, else the case again with the errors."""
    try:
        payload = load_form(schema, data)
        act(g.principal, case_id, payload)
    except ValidationError as error:
        return _case_page(
            case_id,
            422,
            failed=form_name,
            errors=flatten_messages(error.messages),
            form=request.form,
        )
    except Problem as problem:
        if problem.status == 404:
            raise
        abandon()  # nothing of the refused change stays; the write lock is freed
        return _case_page(
            case_id,
            problem.status,
            failed=form_name,
            errors=problem.errors or {fallback_field: [problem.detail or problem.title or ""]},
            form=request.form,
        )
    flash(done)
    return redirect(url_for("console.complaint", case_id=case_id), 303)


def _london_moment(value: str) -> str:
    """A browser's datetime-local value (London wall-clock time, no offset) as an ISO moment
    with London's offset; anything else unchanged, for the schema to judge."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.isoformat()


def _move(case_id: uuid.UUID, to: str, form_name: str, done: str):
    data = {**request.form.to_dict(), "to": to}
    if data.get("contacted_at"):
        data["contacted_at"] = _london_moment(data["contacted_at"])
    return _act(
        case_id,
        form_name,
        schemas.ComplaintTransitionIn(),
        data,
        feedback.move_complaint,
        done,
        "to",
    )


@blp.route("/complaints/<uuid:case_id>/first-contact", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_first_contact(case_id: uuid.UUID):
    return _move(case_id, ComplaintState.CONTACTED, "contact", "First contact recorded.")


@blp.route("/complaints/<uuid:case_id>/escalation", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_escalate(case_id: uuid.UUID):
    return _move(case_id, ComplaintState.ESCALATED, "escalate", "Case escalated.")


@blp.route("/complaints/<uuid:case_id>/resolution", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_resolve(case_id: uuid.UUID):
    return _move(case_id, ComplaintState.RESOLVED, "resolve", "Case marked resolved.")


@blp.route("/complaints/<uuid:case_id>/closure", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_close(case_id: uuid.UUID):
    return _move(case_id, ComplaintState.CLOSED, "close", "Case closed.")


@blp.route("/complaints/<uuid:case_id>/actions", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_action(case_id: uuid.UUID):
    return _act(
        case_id,
        "action",
        schemas.ServiceRecoveryActionIn(),
        request.form,
        feedback.add_service_recovery_action,
        "Service-recovery action added.",
        "kind",
    )


@blp.route("/complaints/<uuid:case_id>/allegations", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_allegation(case_id: uuid.UUID):
    return _act(
        case_id,
        "allegation",
        schemas.AllegationIn(),
        request.form,
        feedback.add_allegation,
        "Allegation added.",
        "group",
    )


@blp.route("/complaints/<uuid:case_id>/assignment", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_assign(case_id: uuid.UUID):
    # The buttons send assignee=me or assignee=none; a user id passes through to the schema.
    chosen = request.form.get("assignee", "")
    if chosen == "me":
        chosen = str(g.principal.id)
    try:
        payload = AssignmentIn().load({"assignee_id": None if chosen == "none" else chosen})
    except ValidationError as error:
        return _case_page(case_id, 422, failed="assign", errors=flatten_messages(error.messages))

    done = "Case unassigned." if payload["assignee_id"] is None else "Case assigned."
    try:
        feedback.assign_complaint(g.principal, case_id, payload["assignee_id"])
    except Problem as problem:
        if problem.status == 404:
            raise
        abandon()  # nothing of the refused change stays; the write lock is freed
        return _case_page(
            case_id,
            problem.status,
            failed="assign",
            errors=problem.errors or {"assignee_id": [problem.detail or ""]},
        )
    flash(done)
    return redirect(url_for("console.complaint", case_id=case_id), 303)


@blp.route("/complaints/<uuid:case_id>/notes", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_note(case_id: uuid.UUID):
    return _act(
        case_id,
        "note",
        InternalNoteIn(),
        request.form,
        feedback.add_complaint_note,
        "Note added.",
        "text",
    )


@blp.route("/complaints/<uuid:case_id>/messages", methods=["POST"])
@console_page(*CASE_HOLDERS)
def complaint_message(case_id: uuid.UUID):
    """Ask the complainant for more information, or send them a message (as the API does)."""
    return _act(
        case_id,
        "message",
        message_schemas.StaffMessageIn(),
        request.form,
        resident_messages.message_resident_on_complaint,
        "Sent to the complainant.",
        "text",
    )
