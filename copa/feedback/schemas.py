from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.areas.schemas import AreaOut, PointIn
from copa.feedback.models import FeedbackKind
from copa.periods import today_london
from copa.privacy.schemas import ContactIn, ContactOut
from copa.submissions import EMERGENCY_ADVICE
from copa.web.schemas import StrictSchema, Text

EARLIEST_INCIDENT_DATE = date(2000, 1, 1)
_GSS_CODE = r"^[ENSW]\d{8}$"


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
        validate=validate.Regexp(_GSS_CODE, error="Not a ward or local authority code."),
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


class FeedbackComplaintOut(Schema):
    state = fields.String(required=True, metadata={"example": "logged"})
    logged_at = fields.DateTime(required=True)


class FeedbackOut(Schema):
    """A resident's own feedback, as they may see it: area codes, never coordinates."""

    id = fields.UUID(required=True)
    reference = fields.String(required=True, metadata={"example": "COPA-26-004213"})
    kind = fields.String(required=True, metadata={"example": "compliment"})
    text = fields.String(required=True)
    incident_date = fields.Date(allow_none=True)
    area = fields.Nested(AreaOut, allow_none=True)
    officer_identifier = fields.String(allow_none=True)
    contact = fields.Nested(ContactOut, allow_none=True)
    created_at = fields.DateTime(required=True)
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
