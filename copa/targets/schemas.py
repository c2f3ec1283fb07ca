from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate

from copa.catalog.schemas import CODE
from copa.targets.service import MAX_HOURS
from copa.web.schemas import StrictSchema


class Hours(fields.Integer):
    """Whole hours, 1 to a year; a boolean or a fraction is refused, not rounded."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, validate=validate.Range(min=1, max=MAX_HOURS), **kwargs)


def _category_code(value: str) -> None:
    if len(value) > 64 or re.fullmatch(CODE, value) is None:
        raise ValidationError("Not a category code.")


_SETTINGS = {
    "report_first_action_hours": "Hours to the first staff or partner action on a report, for "
    "every category without a target of its own.",
    "category_hours": "A category's own first-action target (category code -> hours); a "
    "category not named here has the default.",
    "complaint_first_contact_hours": "Hours from a complaint case being logged to the "
    "Resolution Team's first contact with the complainant.",
    "referral_acknowledgement_hours": "Hours from a referral being sent to the partner "
    "acknowledging it.",
}


class TargetsIn(StrictSchema):
    """Every target, as a whole (PUT replaces them all)."""

    report_first_action_hours = Hours(
        required=True, metadata={"description": _SETTINGS["report_first_action_hours"]}
    )
    category_hours = fields.Dict(
        keys=fields.String(validate=_category_code),
        values=Hours(),
        load_default=dict,
        metadata={"description": _SETTINGS["category_hours"], "example": {"asb": 24}},
    )
    complaint_first_contact_hours = Hours(
        required=True, metadata={"description": _SETTINGS["complaint_first_contact_hours"]}
    )
    referral_acknowledgement_hours = Hours(
        required=True, metadata={"description": _SETTINGS["referral_acknowledgement_hours"]}
    )


class CategoryTargetOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    hours = fields.Integer(required=True, metadata={"description": "The target in force."})
    own_target = fields.Boolean(
        required=True, metadata={"description": "False: the default applies."}
    )


class TargetsOut(Schema):
    report_first_action_hours = fields.Integer(
        required=True, metadata={"description": _SETTINGS["report_first_action_hours"]}
    )
    category_hours = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": _SETTINGS["category_hours"]},
    )
    complaint_first_contact_hours = fields.Integer(
        required=True, metadata={"description": _SETTINGS["complaint_first_contact_hours"]}
    )
    referral_acknowledgement_hours = fields.Integer(
        required=True, metadata={"description": _SETTINGS["referral_acknowledgement_hours"]}
    )
    updated_at = fields.DateTime(
        allow_none=True, metadata={"description": "Last change; null: the built-in defaults."}
    )
    categories = fields.List(
        fields.Nested(CategoryTargetOut),
        required=True,
        metadata={"description": "Every category with the first-action target in force."},
    )
