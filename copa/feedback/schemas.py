from __future__ import annotations

from datetime import date, datetime

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    missing,
    validate,
    validates,
    validates_schema,
)

from copa.areas.schemas import GSS_CODE, AreaOut, PointIn
from copa.audit.schemas import AuditEventOut, InternalNoteOut, StaffMemberOut
from copa.auth.schemas import AssigneeFilter
from copa.contacts.schemas import ContactIn, ContactOut, ResidentContactOut
from copa.db import utcnow
from copa.emergency import EMERGENCY_ADVICE
from copa.feedback.models import AllegationGroup, ComplaintState, FeedbackKind, ServiceRecoveryKind
from copa.feedback.workflow import COMPLAINT_OUTCOMES, allowed_complaint_transitions
from copa.notifications.schemas import SentOut
from copa.periods import today_london
from copa.signposts import service as signposts
from copa.signposts.schemas import OfferedSignposts
from copa.web.pagination import DateRangeQuery
from copa.web.schemas import StrictSchema, Text

EARLIEST_INCIDENT_DATE = date(2000, 1, 1)


def _plausible_incident_date(value: date) -> None:
    # "Today" is the resident's day in Cleveland, not the server's UTC day.
    if value > today_london():
        raise ValidationError("Must not be in the future.")
    if value < EARLIEST_INCIDENT_DATE:
        raise ValidationError(f"Must not be before {EARLIEST_INCIDENT_DATE.isoformat()}.")


class FeedbackIn(StrictSchema):
    """What a resident may say: a compliment, a suggestion or an expression of dissatisfaction."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf([kind.value for kind in FeedbackKind]),
        metadata={
            "description": "An expression of dissatisfaction is logged as a complaint.",
            "example": "compliment",
        },
    )
    text = Text(required=True, validate=validate.Length(min=1, max=4000))
    incident_date = fields.Date(
        allow_none=True,
        validate=_plausible_incident_date,
        metadata={"description": "When it happened (Europe/London date, not in the future)."},
    )
    location = fields.Nested(
        PointIn,
        allow_none=True,
        metadata={"description": "Where it happened; attributed to a ward. Not with `area`."},
    )
    area = Text(
        allow_none=True,
        validate=validate.Regexp(GSS_CODE, error="Not a ward or local authority code."),
        metadata={
            "description": "A ward or local authority GSS code instead of a location.",
            "example": "E06000002",
        },
    )
    officer_identifier = Text(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The officer concerned, e.g. a collar number."},
    )
    contact = fields.Nested(ContactIn, allow_none=True)

    @validates_schema
    def _location_or_area(self, data, **kwargs):  # noqa: ANN001
        if data.get("location") is not None and data.get("area") is not None:
            message = "Give a location or an area, not both."
            raise ValidationError({"location": [message], "area": [message]})


class ComplaintTimelineEntryOut(Schema):
    """The public part of a change of a complaint case's state (no internal note, no actor)."""

    at = fields.DateTime(required=True)
    state = fields.String(attribute="to_state", required=True, metadata={"example": "contacted"})
    public_note = fields.String(allow_none=True)


class SatisfactionOut(Schema):
    score = fields.Integer(attribute="satisfaction_score", required=True, metadata={"example": 5})
    comment = fields.String(attribute="satisfaction_comment", allow_none=True)
    answered_at = fields.DateTime(attribute="satisfaction_at", required=True)


class _WhenAnswered(fields.Nested):
    """The complainant's satisfaction answer, read off the case itself; null until given."""

    def get_value(self, obj, attr, accessor=None, default=missing):  # noqa: ANN001
        return obj if getattr(obj, "satisfaction_score", None) is not None else None


def satisfaction_field() -> fields.Field:
    return _WhenAnswered(
        SatisfactionOut,
        allow_none=True,
        metadata={"description": "How satisfied the complainant is (1-5); null until answered."},
    )


class FeedbackComplaintOut(Schema):
    """The complaint case, as the complainant may follow it."""

    state = fields.String(required=True, metadata={"example": "logged"})
    logged_at = fields.DateTime(required=True)
    timeline = fields.List(
        fields.Nested(ComplaintTimelineEntryOut),
        required=True,
        metadata={"description": "Each change of state, oldest first, with its public note."},
    )
    satisfaction = satisfaction_field()
    satisfaction_invited = fields.Function(
        lambda case: case.state == ComplaintState.CLOSED and case.satisfaction_score is None,
        required=True,
        metadata={
            "type": "boolean",
            "description": "The case is closed and the complainant has not yet said how satisfied "
            "they are: POST .../satisfaction.",
        },
    )


class FeedbackOut(Schema):
    """A resident's own feedback, as they may see it: area codes, never coordinates."""

    id = fields.UUID(required=True)
    reference = fields.String(required=True, metadata={"example": "COPA-26-004213"})
    kind = fields.String(required=True, metadata={"example": "compliment"})
    text = fields.String(required=True)
    incident_date = fields.Date(allow_none=True)
    area = fields.Nested(AreaOut, allow_none=True)
    officer_identifier = fields.String(allow_none=True)
    contact = fields.Nested(ResidentContactOut, allow_none=True)
    created_at = fields.DateTime(required=True)
    state = fields.String(
        required=True,
        metadata={
            "description": "A compliment or suggestion: received, passed_on, answered or "
            "closed (a dissatisfaction: see its complaint case).",
            "example": "closed",
        },
    )
    passed_to = fields.String(
        allow_none=True,
        metadata={
            "description": "Who a compliment was passed on to.",
            "example": "Middlesbrough NPT",
        },
    )
    response = fields.String(
        allow_none=True, metadata={"description": "The answer given to a suggestion."}
    )
    handled_at = fields.DateTime(
        allow_none=True, metadata={"description": "When it was passed on or answered."}
    )
    complaint = fields.Nested(
        FeedbackComplaintOut,
        allow_none=True,
        metadata={"description": "The complaint case, for an expression of dissatisfaction."},
    )
    emergency_advice = fields.Function(
        lambda feedback: EMERGENCY_ADVICE if feedback.possible_emergency else None,
        allow_none=True,
        metadata={
            "type": "string",
            "description": "Set when the text suggests an emergency: call 999.",
        },
    )


# --- the Resolution Team's complaint cases ----------------------------------------------------

_COMPLAINT_STATES = [state.value for state in ComplaintState]
_NOTE = validate.Length(min=1, max=2000)


class FeedbackAnswerOut(FeedbackOut):
    """One feedback as its giver sees it, with the signposts offered with its kind."""

    signposts = OfferedSignposts(
        lambda feedback: signposts.for_feedback(feedback.kind, feedback.local_authority_code),
        metadata={
            "description": "Other services relevant to this feedback (how police complaints "
            "work, joining the force...). Record a tap with the signpost's clicks_url."
        },
    )


class ComplaintQuery(DateRangeQuery):
    """Filters of the complaint case list; ``from``/``to`` are London dates on ``logged_at``."""

    state = fields.List(
        fields.String(validate=validate.OneOf(_COMPLAINT_STATES)),
        metadata={"description": "Repeat for several: ?state=logged&state=contacted."},
    )
    assignee = AssigneeFilter(
        metadata={"description": 'A user id, "me" or "none" (unassigned).', "example": "me"}
    )
    allegation_group = fields.String(
        validate=validate.OneOf([group.value for group in AllegationGroup]),
        metadata={"description": "Cases with at least one allegation in this group."},
    )
    ward = fields.String(
        validate=validate.Regexp(GSS_CODE, error="Not a ward code."),
        metadata={"example": "E05001497"},
    )
    local_authority = fields.String(
        validate=validate.Regexp(GSS_CODE, error="Not a local authority code."),
        metadata={"example": "E06000002"},
    )
    awaiting_first_contact = fields.Boolean(
        metadata={"description": "true: not contacted yet; false: contacted."}
    )


def _seconds_to_first_contact(case) -> int | None:  # noqa: ANN001
    if case.first_contact_at is None:
        return None
    return int((case.first_contact_at - case.logged_at).total_seconds())


class _ComplaintBase(Schema):
    id = fields.UUID(required=True)
    feedback_id = fields.UUID(required=True)
    reference = fields.String(
        attribute="feedback.reference", required=True, metadata={"example": "COPA-26-004213"}
    )
    state = fields.String(required=True, metadata={"example": "logged"})
    logged_at = fields.DateTime(required=True)
    first_contact_at = fields.DateTime(allow_none=True)
    time_to_first_contact_seconds = fields.Function(
        _seconds_to_first_contact,
        allow_none=True,
        metadata={
            "type": "integer",
            "description": "first_contact_at - logged_at; null until the complainant is contacted.",
        },
    )
    assignee = fields.Nested(StaffMemberOut, allow_none=True)
    area = fields.Nested(AreaOut, attribute="feedback.area", allow_none=True)


class ComplaintSummaryOut(_ComplaintBase):
    """One line of the Resolution Team's list."""

    allegation_groups = fields.Function(
        lambda case: sorted({allegation.group for allegation in case.allegations}),
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    summary = fields.Function(
        lambda case: case.feedback.text[:140],
        required=True,
        metadata={"type": "string", "description": "The first 140 characters of the text."},
    )


class AllegationOut(Schema):
    id = fields.UUID(required=True)
    group = fields.String(required=True, metadata={"example": "individual_behaviour"})
    code = fields.String(required=True, metadata={"example": "incivility"})
    description = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    created_by_id = fields.UUID(allow_none=True)


class ServiceRecoveryActionOut(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True, metadata={"example": "apology"})
    note = fields.String(allow_none=True)
    at = fields.DateTime(required=True)
    actor_id = fields.UUID(allow_none=True)


class ActorOut(Schema):
    """Who made a change: staff, or the system (no id)."""

    kind = fields.String(attribute="actor_kind", required=True, metadata={"example": "staff"})
    id = fields.UUID(attribute="actor_id", allow_none=True)


class _Itself(fields.Nested):
    """A nested object made of some of the parent's own attributes."""

    def get_value(self, obj, attr, accessor=None, default=missing):  # noqa: ANN001
        return obj


class StaffComplaintTimelineEntryOut(Schema):
    """A change of state as staff see it: who, and the internal note too."""

    id = fields.UUID(required=True)
    at = fields.DateTime(required=True)
    actor = _Itself(ActorOut, required=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(required=True)
    outcome = fields.String(allow_none=True)
    public_note = fields.String(allow_none=True)
    internal_note = fields.String(allow_none=True)


class ComplaintOut(_ComplaintBase):
    """A complaint case in full, for the Resolution Team."""

    kind = fields.String(attribute="feedback.kind", required=True)
    text = fields.String(attribute="feedback.text", required=True)
    incident_date = fields.Date(attribute="feedback.incident_date", allow_none=True)
    officer_identifier = fields.String(attribute="feedback.officer_identifier", allow_none=True)
    possible_emergency = fields.Boolean(attribute="feedback.possible_emergency", required=True)
    contact = fields.Nested(
        ContactOut,
        attribute="feedback.contact",
        allow_none=True,
        metadata={"description": "Null when none was given or it has been erased."},
    )
    outcome = fields.String(allow_none=True, metadata={"example": "apology_given"})
    escalated_at = fields.DateTime(allow_none=True)
    escalation_reason = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    allegations = fields.List(fields.Nested(AllegationOut), required=True)
    actions = fields.List(
        fields.Nested(ServiceRecoveryActionOut),
        required=True,
        metadata={"description": "Service-recovery actions, oldest first."},
    )
    notes = fields.List(
        fields.Nested(InternalNoteOut),
        required=True,
        metadata={"description": "Internal notes, oldest first; never shown to the complainant."},
    )
    timeline = fields.List(fields.Nested(StaffComplaintTimelineEntryOut), required=True)
    allowed_transitions = fields.Function(
        lambda case: allowed_complaint_transitions(case.state),
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    satisfaction = satisfaction_field()
    messages = fields.List(
        # By name: copa.messages, which defines it, sits above this feature.
        fields.Nested("StaffMessageOut"),
        attribute="feedback.messages",
        required=True,
        metadata={"description": "The conversation with the complainant, oldest first."},
    )
    notifications = fields.List(
        fields.Nested(SentOut),
        required=True,
        metadata={"description": "What the complainant was told, per channel, oldest first."},
    )
    audit = fields.List(
        fields.Nested(AuditEventOut),
        required=True,
        metadata={"description": "The audit trail of this case, oldest first."},
    )


class ComplaintTransitionIn(StrictSchema):
    """A change of state. ``contacted_at`` only with ``contacted`` (first contact; default now),
    ``reason`` required with ``escalated``, ``outcome`` required with ``closed``."""

    to = fields.String(required=True, validate=validate.OneOf(_COMPLAINT_STATES))
    outcome = fields.String(allow_none=True, validate=validate.OneOf(COMPLAINT_OUTCOMES))
    public_note = Text(
        allow_none=True,
        validate=_NOTE,
        metadata={"description": "Shown to the complainant on their timeline."},
    )
    internal_note = Text(allow_none=True, validate=_NOTE, metadata={"description": "Staff only."})
    contacted_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the complainant was first contacted (with an offset); not in the "
            "future, not before the case was logged. Default: now."
        },
    )
    reason = Text(
        allow_none=True,
        validate=_NOTE,
        metadata={
            "description": "Why it is escalated to the force's Directorate of Standards and "
            "Ethics (Schedule 3). Required with escalated."
        },
    )

    @validates("contacted_at")
    def _not_in_the_future(self, value: datetime | None, **kwargs) -> None:  # noqa: ANN003
        if value is not None and value > utcnow():
            raise ValidationError("Must not be in the future.")

    @validates_schema
    def _fits_the_target(self, data, **kwargs):  # noqa: ANN001
        to, errors = data.get("to"), {}
        if data.get("contacted_at") is not None and to != ComplaintState.CONTACTED:
            errors["contacted_at"] = ["Only when moving to contacted."]
        if to == ComplaintState.ESCALATED and data.get("reason") is None:
            errors["reason"] = ["Required to escalate."]
        elif to != ComplaintState.ESCALATED and data.get("reason") is not None:
            errors["reason"] = ["Only when moving to escalated."]
        if to == ComplaintState.CLOSED and data.get("outcome") is None:
            errors["outcome"] = ["Required to close."]
        elif to != ComplaintState.CLOSED and data.get("outcome") is not None:
            errors["outcome"] = ["Only when moving to closed."]
        if errors:
            raise ValidationError(errors)


class ServiceRecoveryActionIn(StrictSchema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf([kind.value for kind in ServiceRecoveryKind]),
        metadata={"example": "apology"},
    )
    note = Text(allow_none=True, validate=_NOTE)


class AllegationIn(StrictSchema):
    group = fields.String(
        required=True,
        validate=validate.OneOf([group.value for group in AllegationGroup]),
        metadata={"example": "individual_behaviour"},
    )
    code = Text(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The allegation's category, free text.", "example": "incivility"},
    )
    description = Text(allow_none=True, validate=_NOTE)


class SatisfactionIn(StrictSchema):
    """The complainant's one answer once their case is closed."""

    score = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "1 (very dissatisfied) to 5 (very satisfied).", "example": 5},
    )
    comment = Text(allow_none=True, validate=validate.Length(max=2000))
