from __future__ import annotations

from flask.views import MethodView

from copa.messages import schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.ratelimit import limit_per_caller

resident_messages = Blueprint(
    "resident_messages",
    __name__,
    url_prefix="/v1",
    description="Residents' conversations with OPCC staff about their own reports and complaints.",
)


@resident_messages.route("/reports/<uuid:report_id>/messages")
class ReportMessages(MethodView):
    @requires(Role.RESIDENT)
    @resident_messages.response(200, schemas.ResidentMessageOut(many=True))
    def get(self, report_id):
        """The conversation about the resident's own report, oldest first (both directions).

        Staff are shown as "OPCC", never by name. 404 for anyone else's report.
        """
        return service.report_conversation(current_principal(), report_id)

    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_MESSAGES")
    @resident_messages.arguments(schemas.ResidentMessageIn)
    @resident_messages.response(201, schemas.ResidentMessageOut)
    def post(self, payload, report_id):
        """Answer a message from staff (`in_reply_to`), or add information to your open report.

        A closed, rejected or duplicate report takes only an answer to a request for
        information that has no answer yet (409 otherwise). Safe to retry with an
        Idempotency-Key.
        """
        return service.reply_on_report(current_principal(), report_id, payload), 201


@resident_messages.route("/feedback/<uuid:feedback_id>/messages")
class FeedbackMessages(MethodView):
    @requires(Role.RESIDENT)
    @resident_messages.response(200, schemas.ResidentMessageOut(many=True))
    def get(self, feedback_id):
        """The conversation about the resident's own feedback, oldest first (both directions).

        The Resolution Team is shown as "Resolution Team", never by name. 404 for anyone
        else's feedback.
        """
        return service.feedback_conversation(current_principal(), feedback_id)

    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_MESSAGES")
    @resident_messages.arguments(schemas.ResidentMessageIn)
    @resident_messages.response(201, schemas.ResidentMessageOut)
    def post(self, payload, feedback_id):
        """Answer the Resolution Team (`in_reply_to`), or add information to your open complaint.

        A closed complaint takes only an answer to a request for information that has no answer
        yet, and a compliment or suggestion takes no messages (409). Safe to retry with an
        Idempotency-Key.
        """
        return service.reply_on_feedback(current_principal(), feedback_id, payload), 201


staff_messages = Blueprint(
    "staff_messages",
    __name__,
    url_prefix="/v1/staff",
    description="OPCC staff's messages to residents about their reports and complaints.",
)


@staff_messages.route("/reports/<uuid:report_id>/messages")
class StaffReportMessages(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff_messages.arguments(schemas.StaffMessageIn)
    @staff_messages.response(201, schemas.StaffMessageOut)
    def post(self, payload, report_id):
        """Ask the resident for more information about their report, or send them a message.

        The resident is notified in the app (the text is shown only inside it). 409 when the
        resident cannot be reached: they erased their data, or the report came through Open311.
        """
        return service.message_resident_on_report(current_principal(), report_id, payload), 201


@staff_messages.route("/reports/<uuid:report_id>/messages/<uuid:resident_message_id>/pass-on")
class StaffReportMessagePassOn(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @staff_messages.response(200, schemas.StaffMessageOut)
    def post(self, report_id, resident_message_id):
        """Pass a message on to the partners the report is referred to (its text and time only).

        Until then partners never see it. Passing on again changes nothing.
        """
        return service.pass_on_to_partner(current_principal(), report_id, resident_message_id)


@staff_messages.route("/complaints/<uuid:case_id>/messages")
class StaffComplaintMessages(MethodView):
    @requires(Role.RESOLUTION, Role.ADMIN)
    @staff_messages.arguments(schemas.StaffMessageIn)
    @staff_messages.response(201, schemas.StaffMessageOut)
    def post(self, payload, case_id):
        """Ask the complainant for more information, or send them a message.

        The complainant is notified in the app. 409 when they cannot be reached (they erased
        their data).
        """
        return service.message_resident_on_complaint(current_principal(), case_id, payload), 201
