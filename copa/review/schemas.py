from __future__ import annotations

from flask import url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.areas.schemas import GSS_CODE, AreaOut
from copa.audit.schemas import AuditEventOut, InternalNoteOut, StaffMemberOut
from copa.auth.schemas import AssigneeFilter
from copa.catalog.schemas import AnsweredQuestionOut
from copa.contacts.schemas import ContactOut
from copa.feedback.models import ComplaintState, FeedbackKind, FeedbackState
from copa.messages.schemas import StaffMessageOut
from copa.notifications.schemas import SentOut
from copa.notifications.service import sent_to_resident
from copa.outbox.views import DeliveryOut, DeliveryPartnerOut
from copa.reports.models import ReportStatus
from copa.reports.schemas import (
    CategoryRefOut,
    DestinationOut,
    PhotoFacts,
    PointOut,
    VideoFacts,
    ready_url,
)
from copa.reports.workflow import REPORT_OUTCOMES
from copa.review.queue import SORTS
from copa.web.pagination import DateRangeQuery
from copa.web.schemas import StrictSchema, Text


class AuditQuery(DateRangeQuery):
    actor_id = fields.UUID()
    actor_kind = fields.String(validate=validate.OneOf(["staff", "partner"]))
    action = Text(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "An action, e.g. report.transition; or a prefix: report."},
    )
    target_kind = Text(validate=validate.Length(min=1, max=32), metadata={"example": "report"})
    target_id = fields.UUID()


# --- the staff review of reports (GET /v1/staff/queue, /v1/staff/reports/...) -----------------

QUEUE_KINDS = ("report", "feedback", *(str(kind) for kind in FeedbackKind))
# A report's status, a complaint case's state, or a compliment's or suggestion's state.
QUEUE_STATUSES = sorted(
    {
        *(str(s) for s in ReportStatus),
        *(str(s) for s in ComplaintState),
        *(str(s) for s in FeedbackState),
    }
)


class QueueQuery(DateRangeQuery):
    kind = fields.String(
        validate=validate.OneOf(QUEUE_KINDS),
        metadata={"description": "report, feedback (any kind), or one kind of feedback."},
    )
    status = fields.List(
        fields.String(validate=validate.OneOf(QUEUE_STATUSES)),
        metadata={"description": "Repeatable: ?status=received&status=routed."},
    )
    category = Text(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A report category code (reports only).", "example": "asb"},
    )
    ward = fields.String(validate=validate.Regexp(GSS_CODE, error="Not a ward code."))
    local_authority = fields.String(
        validate=validate.Regexp(GSS_CODE, error="Not a local authority code."),
        metadata={"example": "E06000002"},
    )
    possible_emergency = fields.Boolean()
    repeat_asb = fields.Boolean()
    unrouted = fields.Boolean()
    delivery_failed = fields.Boolean(
        metadata={"description": "Reports whose referral could not be delivered (dead letter)."}
    )
    handled = fields.Boolean(
        metadata={
            "description": "Compliments passed on and suggestions answered (true), or those "
            "still waiting and every complaint (false)."
        }
    )
    assignee = AssigneeFilter(
        metadata={"description": "A user id, me, or none (unassigned).", "example": "me"}
    )
    sort = fields.String(
        load_default="urgency",
        validate=validate.OneOf(SORTS),
        metadata={
            "description": "urgency (the default): open possible emergencies first, then "
            "failed deliveries, then the oldest. due: items waiting for a first action or "
            "first contact by due time, most overdue first, then the rest, oldest first."
        },
    )


class QueueItemOut(Schema):
    """One report or feedback in the staff queue."""

    kind = fields.String(required=True, metadata={"description": "report or feedback"})
    id = fields.UUID(required=True)
    reference = fields.String(required=True, metadata={"example": "COPA-26-004213"})
    status = fields.String(
        required=True,
        metadata={
            "description": "A report's status; a complaint case's state; received for a "
            "compliment or suggestion."
        },
    )
    category = fields.Nested(CategoryRefOut, allow_none=True)
    feedback_kind = fields.String(allow_none=True, metadata={"example": "dissatisfaction"})
    area = fields.Nested(AreaOut, allow_none=True)
    possible_emergency = fields.Boolean(required=True)
    repeat_asb = fields.Boolean(required=True)
    unrouted = fields.Boolean(required=True)
    delivery_failed = fields.Boolean(
        required=True,
        metadata={"description": "Its referral could not be delivered: staff to act."},
    )
    assignee = fields.Nested(StaffMemberOut, allow_none=True)
    created_at = fields.DateTime(required=True)
    summary = fields.String(required=True, metadata={"description": "The first 140 characters."})
    due_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When the first staff or partner action (a report) or the first "
            "contact (a complaint) is due by its target; null once done, when settled, or "
            "when no target applies (compliments, suggestions)."
        },
    )
    overdue = fields.Boolean(required=True, metadata={"description": "Past due_at and waiting."})
    overdue_seconds = fields.Integer(
        allow_none=True, metadata={"description": "How long past due_at; null unless overdue."}
    )


class ReportRefOut(Schema):
    id = fields.UUID(required=True)
    reference = fields.String(required=True)


class StaffVideoOut(VideoFacts):
    created_at = fields.DateTime(required=True)
    url = ready_url("staff.StaffReportVideo", report_id="report_id", video_id="id")
    poster_url = ready_url("staff.StaffReportVideoPoster", report_id="report_id", video_id="id")


class StaffPhotoOut(PhotoFacts):
    created_at = fields.DateTime(required=True)
    url = fields.Function(
        lambda photo: url_for(
            "staff.StaffReportPhoto", report_id=photo.report_id, photo_id=photo.id
        ),
        required=True,
        metadata={"type": "string"},
    )


class StaffTimelineEntryOut(Schema):
    """A status change, the internal part included."""

    id = fields.UUID(required=True)
    at = fields.DateTime(required=True)
    actor_kind = fields.String(required=True, metadata={"example": "staff"})
    actor_id = fields.UUID(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    outcome = fields.String(allow_none=True)
    public_note = fields.String(allow_none=True)
    internal_note = fields.String(allow_none=True)


class StaffOpen311Out(Schema):
    """How a report came in through Open311 (null for an app report)."""

    client = fields.Function(
        lambda request: request.client.name, required=True, metadata={"type": "string"}
    )
    media_url = fields.String(
        allow_none=True,
        metadata={"description": "The client's link to its photo (not fetched by COPA)."},
    )
    device_id = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)


class StaffReferralOut(Schema):
    id = fields.UUID(required=True)
    partner = fields.Nested(DeliveryPartnerOut, required=True)
    state = fields.String(required=True, metadata={"example": "delivered"})
    sent_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    external_reference = fields.String(allow_none=True)
    messages = fields.List(
        fields.Nested(DeliveryOut),
        required=True,
        metadata={"description": "Its outbox messages, oldest first, with every attempt."},
    )


class StaffReportOut(Schema):
    """Everything about a report, for OPCC staff."""

    id = fields.UUID(required=True)
    reference = fields.String(required=True, metadata={"example": "COPA-26-004213"})
    channel = fields.String(required=True, metadata={"example": "app"})
    open311 = fields.Nested(StaffOpen311Out, allow_none=True)
    status = fields.String(required=True)
    outcome = fields.String(allow_none=True)
    category = fields.Nested(CategoryRefOut, required=True)
    description = fields.String(required=True)
    location = fields.Nested(PointOut, allow_none=True, metadata={"description": "Exact."})
    address_text = fields.String(allow_none=True)
    area = fields.Nested(AreaOut, allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    happening_now = fields.Boolean(required=True)
    answers = fields.Dict(required=True)
    answered_questions = fields.List(
        fields.Nested(AnsweredQuestionOut),
        required=True,
        metadata={"description": "The answers with the questions and choices as asked."},
    )
    anonymous = fields.Boolean(required=True)
    contact = fields.Nested(
        ContactOut, allow_none=True, metadata={"description": "Null when none or erased."}
    )
    share_contact_with_partner = fields.Boolean(required=True)
    would_have_called_101 = fields.String(allow_none=True)
    possible_emergency = fields.Boolean(required=True)
    repeat_asb = fields.Boolean(required=True)
    unrouted = fields.Boolean(required=True)
    delivery_failed = fields.Boolean(
        required=True,
        metadata={"description": "Its referral could not be delivered: staff to act."},
    )
    destination = fields.Nested(DestinationOut, required=True)
    assignee = fields.Nested(StaffMemberOut, allow_none=True)
    duplicate_of = fields.Nested(ReportRefOut, allow_none=True)
    photos = fields.List(fields.Nested(StaffPhotoOut), required=True)
    videos = fields.List(fields.Nested(StaffVideoOut), required=True)
    timeline = fields.List(fields.Nested(StaffTimelineEntryOut), required=True)
    notes = fields.List(
        fields.Nested(InternalNoteOut),
        required=True,
        metadata={"description": "Internal notes, oldest first."},
    )
    referrals = fields.List(fields.Nested(StaffReferralOut), required=True)
    messages = fields.List(
        fields.Nested(StaffMessageOut),
        attribute="resident_messages",
        required=True,
        metadata={"description": "The conversation with the resident, oldest first."},
    )
    notifications = fields.List(
        fields.Nested(SentOut),
        required=True,
        metadata={"description": "What the resident was told, per channel, oldest first."},
    )
    allowed_transitions = fields.List(fields.String(), required=True)
    audit = fields.List(
        fields.Nested(AuditEventOut),
        required=True,
        metadata={
            "description": "Audit events of this report, oldest first. Outside the admin role, "
            "before and after of report.redact events are null (they hold what was redacted)."
        },
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ReportTransitionIn(StrictSchema):
    """A staff decision on a report: its new status, and what goes with it."""

    to = fields.String(required=True, validate=validate.OneOf([str(s) for s in ReportStatus]))
    outcome = fields.String(
        validate=validate.OneOf(REPORT_OUTCOMES),
        metadata={"description": "Required to resolved, closed and rejected."},
    )
    public_note = Text(
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "Shown to the resident on the report's timeline."},
    )
    internal_note = Text(
        validate=validate.Length(min=1, max=4000), metadata={"description": "Staff only."}
    )
    partner_id = fields.UUID(
        metadata={"description": "With to=routed (required): the active partner to refer to."}
    )
    duplicate_of = fields.UUID(
        metadata={"description": "With to=duplicate (required): the original report."}
    )

    @validates_schema
    def _what_goes_with_the_move(self, data, **kwargs):  # noqa: ANN001
        to, errors = data.get("to"), {}
        if to == ReportStatus.ROUTED and "partner_id" not in data:
            errors["partner_id"] = ["Required to route a report."]
        if to != ReportStatus.ROUTED and "partner_id" in data:
            errors["partner_id"] = ["Only with to=routed."]
        if to == ReportStatus.DUPLICATE and "duplicate_of" not in data:
            errors["duplicate_of"] = ["Required to mark a report as a duplicate."]
        if to != ReportStatus.DUPLICATE and "duplicate_of" in data:
            errors["duplicate_of"] = ["Only with to=duplicate."]
        needs_outcome = (ReportStatus.RESOLVED, ReportStatus.CLOSED, ReportStatus.REJECTED)
        if to in needs_outcome and not data.get("outcome"):
            errors["outcome"] = [f"Required when a report becomes {to}."]
        if errors:
            raise ValidationError(errors)


class FeedbackPassOnIn(StrictSchema):
    """A compliment passed on to the officer, team or organisation it praises."""

    passed_to = Text(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Middlesbrough Neighbourhood Policing Team"},
    )
    public_note = Text(
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "A word to the resident, with the notification."},
    )


class FeedbackAnswerIn(StrictSchema):
    """A suggestion considered and answered: the response the resident reads."""

    response = Text(required=True, validate=validate.Length(min=1, max=4000))


class FeedbackCloseIn(StrictSchema):
    """A compliment or suggestion closed with nothing passed on or answered: why, for staff."""

    reason = Text(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "Why it is closed as it is; kept in the audit log, never shown to "
            "the resident.",
            "example": "The same compliment was sent twice; the first was passed on.",
        },
    )


class ReportRedactionIn(StrictSchema):
    """Exactly one of ``description`` (the replacement text) or ``photo_id``."""

    description = Text(
        validate=validate.Length(min=1, max=4000),
        metadata={"description": "The text that replaces the report's description."},
    )
    photo_id = fields.UUID(metadata={"description": "A photo of the report to withdraw."})
    reason = Text(required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def _exactly_one(self, data, **kwargs):  # noqa: ANN001
        if ("description" in data) == ("photo_id" in data):
            message = "Give exactly one of description or photo_id."
            raise ValidationError({"description": [message], "photo_id": [message]})


class StaffComplaintSummaryOut(Schema):
    id = fields.UUID(required=True)
    state = fields.String(required=True, metadata={"example": "logged"})
    logged_at = fields.DateTime(required=True)
    first_contact_at = fields.DateTime(allow_none=True)


class StaffFeedbackOut(Schema):
    """A resident's feedback, for OPCC staff."""

    id = fields.UUID(required=True)
    reference = fields.String(required=True)
    kind = fields.String(required=True, metadata={"example": "dissatisfaction"})
    text = fields.String(required=True)
    incident_date = fields.Date(allow_none=True)
    area = fields.Nested(AreaOut, allow_none=True)
    officer_identifier = fields.String(allow_none=True)
    contact = fields.Nested(ContactOut, allow_none=True)
    possible_emergency = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    state = fields.String(
        required=True,
        metadata={
            "description": "A compliment or suggestion: received, passed_on, answered or "
            "closed (a dissatisfaction follows its complaint case).",
            "example": "passed_on",
        },
    )
    passed_to = fields.String(allow_none=True, metadata={"example": "Middlesbrough NPT"})
    response = fields.String(allow_none=True)
    handled_at = fields.DateTime(allow_none=True)
    complaint = fields.Nested(StaffComplaintSummaryOut, allow_none=True)
    notifications = fields.Function(
        lambda feedback: SentOut(many=True).dump(sent_to_resident(feedback_id=feedback.id)),
        required=True,
        metadata={
            "type": "array",
            "items": {"$ref": "#/components/schemas/Sent"},
            "description": "What the resident was told, per channel, oldest first.",
        },
    )
    messages = fields.List(
        fields.Nested(StaffMessageOut),
        required=True,
        metadata={"description": "The conversation with the resident, oldest first."},
    )
    audit = fields.List(
        fields.Nested(AuditEventOut),
        required=True,
        metadata={"description": "Audit events of this feedback, oldest first."},
    )
