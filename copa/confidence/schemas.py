from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.areas.schemas import GSS_CODE, PointIn
from copa.confidence.service import OPTION_KEYS
from copa.periods import today_london
from copa.web.pagination import PageQuery
from copa.web.schemas import StrictSchema, Text

EARLIEST_EVENT_DATE = date(2020, 1, 1)
MAX_COUNT = 100_000  # more counters than any community event hands out
_AREA_LEVELS = ("ward", "local_authority")


def _area_code(*, required: bool = False, **metadata: object) -> Text:
    return Text(
        required=required,
        validate=validate.Regexp(GSS_CODE, error="Not a ward or local authority code."),
        metadata={"example": "E06000002", **metadata},
    )


# --- the question -------------------------------------------------------------------------


class ConfidenceOptionOut(Schema):
    key = fields.String(required=True, metadata={"example": "quite_confident"})
    label = fields.String(required=True, metadata={"example": "Quite confident"})
    value = fields.Integer(required=True, metadata={"example": 4})


class ConfidenceQuestionOut(Schema):
    question = fields.String(required=True)
    options = fields.List(
        fields.Nested(ConfidenceOptionOut),
        required=True,
        metadata={"description": "The five options, from least (1) to most (5) confident."},
    )


# --- shared parts of votes and tallies ----------------------------------------------------


class ConfidenceAreaOut(Schema):
    code = fields.String(required=True, metadata={"example": "E05001497"})
    name = fields.String(required=True, metadata={"example": "Middlehaven"})
    level = fields.String(
        required=True, validate=validate.OneOf(_AREA_LEVELS), metadata={"enum": list(_AREA_LEVELS)}
    )


class ConfidenceQuarterOut(Schema):
    """A UK financial-year quarter in Europe/London time (Q1 is April to June)."""

    fiscal_year = fields.Integer(
        required=True,
        metadata={"description": "The year the financial year starts: 2025 for 2025/26."},
    )
    quarter = fields.Integer(required=True, metadata={"example": 3})
    label = fields.String(required=True, metadata={"example": "2025/26 Q3"})


# --- votes --------------------------------------------------------------------------------


class VoteIn(StrictSchema):
    """A resident's answer for one area: an area code, or a point attributed to its ward."""

    option = fields.String(
        required=True,
        validate=validate.OneOf(OPTION_KEYS),
        metadata={"example": "quite_confident"},
    )
    area = _area_code(description="A ward or local authority GSS code. Not with `location`.")
    location = fields.Nested(
        PointIn,
        metadata={"description": "A point, attributed to the ward it falls in. Not with `area`."},
    )

    @validates_schema
    def _area_or_location(self, data, **kwargs) -> None:  # noqa: ANN001, ANN003
        if ("area" in data) == ("location" in data):
            message = ["Give either an area or a location, not both."]
            raise ValidationError({"area": message, "location": message})


class ReplacedVoteOut(Schema):
    """The earlier counted vote of the quarter that a vote replaced (kept, no longer counted)."""

    id = fields.UUID(required=True)
    area = fields.Nested(ConfidenceAreaOut, required=True)


class VoteOut(Schema):
    id = fields.UUID(required=True)
    option = fields.String(required=True, metadata={"example": "quite_confident"})
    value = fields.Integer(required=True, metadata={"example": 4})
    area = fields.Nested(ConfidenceAreaOut, required=True)
    quarter = fields.Nested(ConfidenceQuarterOut, required=True)
    counted = fields.Boolean(
        required=True,
        metadata={
            "description": "False once a later vote in the same quarter (for any area) replaced it."
        },
    )
    replaced = fields.Boolean(
        required=True,
        metadata={
            "description": "Casting it replaced an earlier counted vote of the same quarter "
            "(for any area): `replaces` then names it."
        },
    )
    replaces = fields.Nested(
        ReplacedVoteOut,
        required=True,
        allow_none=True,
        metadata={
            "description": "The earlier counted vote of the quarter this one replaced, with its "
            "area; null when it replaced none."
        },
    )
    cast_at = fields.DateTime(required=True)


# --- tallies ------------------------------------------------------------------------------


def _plausible_event_date(value: date) -> None:
    # "Today" is the day in Cleveland, not the server's UTC day.
    if value > today_london():
        raise ValidationError("Must not be in the future.")
    if value < EARLIEST_EVENT_DATE:
        raise ValidationError(f"Must not be before {EARLIEST_EVENT_DATE.isoformat()}.")


def _count() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_COUNT))


class CountsIn(StrictSchema):
    """How many counters went into each tube."""

    not_at_all_confident = _count()
    not_very_confident = _count()
    neither = _count()
    quite_confident = _count()
    very_confident = _count()


class CountsOut(Schema):
    not_at_all_confident = fields.Integer(required=True)
    not_very_confident = fields.Integer(required=True)
    neither = fields.Integer(required=True)
    quite_confident = fields.Integer(required=True)
    very_confident = fields.Integer(required=True)


class TallyIn(StrictSchema):
    """The counts from one physical counter session at a community event."""

    event_name = Text(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Middlesbrough Mela"},
    )
    event_date = fields.Date(
        required=True,
        validate=_plausible_event_date,
        metadata={"description": "Europe/London date; not in the future, not before 2020."},
    )
    area = _area_code(required=True, description="The ward or local authority of the event.")
    counts = fields.Nested(CountsIn, required=True)

    @validates_schema
    def _some_counters(self, data, **kwargs) -> None:  # noqa: ANN001, ANN003
        counts = data.get("counts")
        if counts is not None and not any(counts.values()):
            raise ValidationError({"counts": ["At least one count must be more than 0."]})


class TallyOut(Schema):
    id = fields.UUID(required=True)
    event_name = fields.String(required=True)
    event_date = fields.Date(required=True)
    area = fields.Nested(ConfidenceAreaOut, required=True)
    quarter = fields.Nested(ConfidenceQuarterOut, required=True)
    counts = fields.Nested(CountsOut, required=True)
    total = fields.Integer(required=True)
    entered_by = fields.UUID(
        required=True, allow_none=True, metadata={"description": "The staff user who entered it."}
    )
    created_at = fields.DateTime(required=True)


class TallyQuery(PageQuery):
    area = _area_code(description="A ward, or a local authority (with its wards' tallies).")
    fiscal_year = fields.Integer(
        validate=validate.Range(min=2000, max=2100),
        metadata={"description": "The year the financial year starts: 2025 for 2025/26."},
    )
    quarter = fields.Integer(validate=validate.Range(min=1, max=4))
