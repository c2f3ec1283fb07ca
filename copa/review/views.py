from __future__ import annotations

import copy

from flask.views import MethodView

from copa.audit.schemas import AuditEventOut, InternalNoteIn, InternalNoteOut
from copa.auth.schemas import AssignmentIn
from copa.reports import videos
from copa.reports.schemas import (
    PHOTO_BYTES_RESPONSES,
    POSTER_BYTES_RESPONSES,
    VIDEO_BYTES_RESPONSES,
)
from copa.review import queue, schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.pagination import page_of
from copa.web.responses import private_file, private_image

audit = Blueprint(
    "audit",
    __name__,
    url_prefix="/v1/admin/audit",
    description="The append-only audit log of staff, partner and admin actions (admin).",
)


@audit.route("")
class AuditLog(MethodView):
    @requires(Role.ADMIN)
    @audit.arguments(schemas.AuditQuery, location="query")
    @audit.response(200, page_of(AuditEventOut))
    def get(self, query):
        """Who did what to what, newest first: actor, roles, action, target, before and after."""
        return service.list_audit(query)


staff = Blueprint(
    "staff",
    __name__,
    url_prefix="/v1/staff",
    description="OPCC staff review: the triage queue, reports and their workflow.",
)


@staff.route("/queue")
class StaffQueue(MethodView):
    @requires(Role.REVIEWER, Role.RESOLUTION, Role.ADMIN)
    @staff.arguments(schemas.QueueQuery, location="query")
    @staff.response(200, page_of(schemas.QueueItemOut))
    def get(self, query):
        """The triage queue of reports and feedback: open possible emergencies first, then
        oldest; or, with `sort=due`, by due time (most overdue first).

        Filters: kind, status (repeatable), category, ward, local_authority, from/to (London
        dates, inclusive), possible_emergency, repeat_asb, unrouted, assignee (a user id, `me`
        or `none`). The Resolution Team sees feedback only. Each item carries `due_at`,
        `overdue` and `overdue_seconds`: a report's first staff or partner action, a complaint's
        first contact, against the targets of /v1/admin/targets.
        """
        return queue.staff_queue(current_principal(), query)


@staff.route("/reports/<uuid:report_id>")
class StaffReport(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.response(200, schemas.StaffReportOut)
    def get(self, report_id):
        """Everything about a report, for staff.

        Exact location, contact, timeline with internal notes, notes, referrals with their
        deliveries and attempts, the moves allowed next, and its audit trail.
        """
        return service.staff_report(current_principal(), report_id)


@staff.route("/reports/<uuid:report_id>/photos/<uuid:photo_id>")
class StaffReportPhoto(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.doc(responses=copy.deepcopy(PHOTO_BYTES_RESPONSES))
    def get(self, report_id, photo_id):
        """A photo of a report. A redacted photo is served to admins only."""
        photo = service.staff_report_photo(current_principal(), report_id, photo_id)
        return private_image(photo.data, photo.content_type)


@staff.route("/reports/<uuid:report_id>/videos/<uuid:video_id>")
class StaffReportVideo(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.doc(responses=copy.deepcopy(VIDEO_BYTES_RESPONSES))
    def get(self, report_id, video_id):
        """A video of a report, re-encoded with no metadata (409 while still processing)."""
        found = videos.staff_video(report_id, video_id)
        return private_file(found.source, found.content_type)


@staff.route("/reports/<uuid:report_id>/videos/<uuid:video_id>/poster")
class StaffReportVideoPoster(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.doc(responses=copy.deepcopy(POSTER_BYTES_RESPONSES))
    def get(self, report_id, video_id):
        """The poster (first picture) of a video of a report."""
        found = videos.staff_video(report_id, video_id, poster=True)
        return private_file(found.source, found.content_type)


@staff.route("/reports/<uuid:report_id>/transitions")
class StaffReportTransitions(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.arguments(schemas.ReportTransitionIn)
    @staff.response(200, schemas.StaffReportOut)
    def post(self, payload, report_id):
        """Move a report on through the workflow (one timeline row and one audit event).

        Route it (again) to a partner, mark it a duplicate, pull it back for re-routing,
        reject, resolve or close it. A move the workflow does not allow is a 409 listing the
        allowed ones. Routing elsewhere, marking a duplicate, pulling back and rejecting
        withdraw the open referrals (webhook and email partners are told).
        """
        return service.transition_report(current_principal(), report_id, payload)


@staff.route("/reports/<uuid:report_id>/assignment")
class StaffReportAssignment(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.arguments(AssignmentIn)
    @staff.response(200, schemas.StaffReportOut)
    def post(self, payload, report_id):
        """Assign a report to an active reviewer or admin, or to nobody (null)."""
        return service.assign_report(current_principal(), report_id, payload["assignee_id"])


@staff.route("/reports/<uuid:report_id>/notes")
class StaffReportNotes(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.arguments(InternalNoteIn)
    @staff.response(201, InternalNoteOut)
    def post(self, payload, report_id):
        """Keep an internal note on a report (never shown to the resident or partners)."""
        return service.add_report_note(current_principal(), report_id, payload["text"])


@staff.route("/reports/<uuid:report_id>/redactions")
class StaffReportRedactions(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff.arguments(schemas.ReportRedactionIn)
    @staff.response(200, schemas.StaffReportOut)
    def post(self, payload, report_id):
        """Redact a report: replace its description, or withdraw a photo from every view.

        The original is kept only in the audit event (admins read it in full).
        """
        return service.redact_report(current_principal(), report_id, payload)


@staff.route("/feedback/<uuid:feedback_id>")
class StaffFeedback(MethodView):
    @requires(Role.REVIEWER, Role.RESOLUTION, Role.ADMIN)
    @staff.response(200, schemas.StaffFeedbackOut)
    def get(self, feedback_id):
        """A resident's feedback, with contact details and its complaint case, if any."""
        return service.staff_feedback(feedback_id)


@staff.route("/feedback/<uuid:feedback_id>/pass-on")
class StaffFeedbackPassOn(MethodView):
    @requires(Role.REVIEWER, Role.RESOLUTION, Role.ADMIN)
    @staff.arguments(schemas.FeedbackPassOnIn)
    @staff.response(200, schemas.StaffFeedbackOut)
    def post(self, payload, feedback_id):
        """Pass a compliment on (to an officer, team or organisation) and close it.

        The resident is told to whom. Only a compliment not yet handled: anything else is 409.
        """
        return service.pass_on_compliment(current_principal(), feedback_id, payload)


@staff.route("/feedback/<uuid:feedback_id>/answer")
class StaffFeedbackAnswer(MethodView):
    @requires(Role.REVIEWER, Role.RESOLUTION, Role.ADMIN)
    @staff.arguments(schemas.FeedbackAnswerIn)
    @staff.response(200, schemas.StaffFeedbackOut)
    def post(self, payload, feedback_id):
        """Answer a suggestion and close it; the resident reads the response.

        Only a suggestion not yet handled: anything else is 409.
        """
        return service.answer_suggestion(current_principal(), feedback_id, payload)


@staff.route("/feedback/<uuid:feedback_id>/close")
class StaffFeedbackClose(MethodView):
    @requires(Role.REVIEWER, Role.RESOLUTION, Role.ADMIN)
    @staff.arguments(schemas.FeedbackCloseIn)
    @staff.response(200, schemas.StaffFeedbackOut)
    def post(self, payload, feedback_id):
        """Close a compliment or suggestion without passing it on or answering it.

        The reason is kept in the audit log; the resident is not told. Only a compliment or
        suggestion not yet closed: anything else (a dissatisfaction follows its complaint case)
        is 409.
        """
        return service.close_feedback(current_principal(), feedback_id, payload)
