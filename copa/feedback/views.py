from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from copa.audit.schemas import InternalNoteIn
from copa.auth.schemas import AssignmentIn
from copa.feedback import schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.pagination import PageQuery, page_of
from copa.web.ratelimit import limit_per_caller

blp = Blueprint(
    "feedback",
    __name__,
    url_prefix="/v1",
    description="Residents' compliments, suggestions and complaints (dissatisfaction).",
)

_LOCATION = {"Location": {"description": "The new feedback's URL.", "schema": {"type": "string"}}}


@blp.route("/feedback")
class FeedbackCollection(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_FEEDBACK")
    @blp.arguments(schemas.FeedbackIn)
    @blp.response(201, schemas.FeedbackAnswerOut, headers=_LOCATION)
    def post(self, payload):
        """Give a compliment, a suggestion or an expression of dissatisfaction.

        Dissatisfaction is logged as a complaint for the Resolution Team. Text that suggests an
        emergency is still accepted, and the answer carries advice to call 999.
        """
        feedback = service.submit_feedback(current_principal(), payload)
        location = url_for("feedback.FeedbackItem", feedback_id=feedback.id)
        return feedback, {"Location": location}

    @requires(Role.RESIDENT)
    # As in areas' lookup: webargs would drop unknown query parameters; refuse them instead.
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(schemas.FeedbackOut))
    def get(self, query):
        """The resident's own feedback, newest first."""
        return service.list_feedback(current_principal(), query["page"], query["page_size"])


@blp.route("/feedback/<uuid:feedback_id>")
class FeedbackItem(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(200, schemas.FeedbackAnswerOut)
    def get(self, feedback_id):
        """One of the resident's own feedback; 404 for anyone else's."""
        return service.get_feedback(current_principal(), feedback_id)


@blp.route("/feedback/<uuid:feedback_id>/satisfaction")
class FeedbackSatisfaction(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @blp.arguments(schemas.SatisfactionIn)
    @blp.response(201, schemas.FeedbackOut)
    def post(self, payload, feedback_id):
        """Say how satisfied you are (1-5) with your closed complaint; once only.

        Answers the feedback with the rating. 409 when the complaint is not closed yet (or the
        feedback is not a complaint), and when it has already been answered; 404 for anyone
        else's feedback.
        """
        return service.answer_satisfaction(current_principal(), feedback_id, payload)


complaints = Blueprint(
    "complaints",
    __name__,
    url_prefix="/v1/staff/complaints",
    description="The Resolution Team's complaint cases (resolution, admin).",
)

_CASE_HOLDERS = (Role.RESOLUTION, Role.ADMIN)


@complaints.route("")
class ComplaintCases(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.arguments(schemas.ComplaintQuery, location="query")
    @complaints.response(200, page_of(schemas.ComplaintSummaryOut))
    def get(self, query):
        """Complaint cases, oldest logged first.

        Filter by `state` (repeatable), `assignee` (a user id, `me` or `none`),
        `allegation_group`, `ward`, `local_authority`, `from`/`to` (London dates the case was
        logged, inclusive) and `awaiting_first_contact`.
        """
        return service.list_complaints(current_principal(), query)


@complaints.route("/<uuid:case_id>")
class ComplaintCaseItem(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.response(200, schemas.ComplaintOut)
    def get(self, case_id):
        """A complaint case in full, with its notes, timeline, allowed transitions and audit trail."""
        return service.get_complaint(case_id)


@complaints.route("/<uuid:case_id>/assignment")
class ComplaintAssignment(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.arguments(AssignmentIn)
    @complaints.response(200, schemas.ComplaintOut)
    def post(self, payload, case_id):
        """Assign the case to an active resolution or admin user, or unassign it (null)."""
        return service.assign_complaint(current_principal(), case_id, payload["assignee_id"])


@complaints.route("/<uuid:case_id>/transitions")
class ComplaintTransitions(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.arguments(schemas.ComplaintTransitionIn)
    @complaints.response(200, schemas.ComplaintOut)
    def post(self, payload, case_id):
        """Move the case to another state.

        `contacted` records first contact (`contacted_at`, default now); `escalated` needs a
        `reason` (Schedule 3, to the force's Directorate of Standards and Ethics); `closed`
        needs an `outcome`. A move the workflow does not allow is a 409 listing `allowed`.
        """
        return service.move_complaint(current_principal(), case_id, payload)


@complaints.route("/<uuid:case_id>/actions")
class ComplaintActions(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.arguments(schemas.ServiceRecoveryActionIn)
    @complaints.response(201, schemas.ComplaintOut)
    def post(self, payload, case_id):
        """Record a service-recovery action (contacted or service_recovery cases only).

        The first one on a contacted case moves it to service_recovery.
        """
        return service.add_service_recovery_action(current_principal(), case_id, payload)


@complaints.route("/<uuid:case_id>/allegations")
class ComplaintAllegations(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.arguments(schemas.AllegationIn)
    @complaints.response(201, schemas.ComplaintOut)
    def post(self, payload, case_id):
        """Add an allegation (group and code) to a case that is not closed."""
        return service.add_allegation(current_principal(), case_id, payload)


@complaints.route("/<uuid:case_id>/notes")
class ComplaintNotes(MethodView):
    @requires(*_CASE_HOLDERS)
    @complaints.arguments(InternalNoteIn)
    @complaints.response(201, schemas.ComplaintOut)
    def post(self, payload, case_id):
        """Keep an internal note on the case; the complainant never sees it."""
        return service.add_complaint_note(current_principal(), case_id, payload)
