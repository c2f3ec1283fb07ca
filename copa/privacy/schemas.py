from __future__ import annotations

from marshmallow import Schema, fields, validate

from copa.web.schemas import StrictSchema


class MeOut(Schema):
    """What the service holds about the caller: a resident's app install, or a user."""

    kind = fields.String(required=True, metadata={"description": "resident or user"})
    id = fields.UUID(required=True)
    roles = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    platform = fields.String(allow_none=True)
    app_version = fields.String(allow_none=True)
    reports = fields.Integer(metadata={"description": "Reports made from this install."})
    feedback = fields.Integer()
    votes = fields.Integer()
    contact_details = fields.Integer(metadata={"description": "Sets of contact details held."})
    email = fields.String()
    display_name = fields.String()
    partner_id = fields.UUID(allow_none=True)


class TransferCodeOut(Schema):
    code = fields.String(
        required=True,
        metadata={
            "description": "Shown once. Type it into the app on the new phone; case and "
            "dashes do not matter. Works once, until `expires_at`.",
            "example": "7KQ2-M9XD-4HRT-PV0C-J8NB",
        },
    )
    expires_at = fields.DateTime(required=True)


class TransferIn(StrictSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"example": "7KQ2-M9XD-4HRT-PV0C-J8NB"},
    )


class TransferOut(Schema):
    device_id = fields.UUID(
        required=True, metadata={"description": "This install, which now holds everything."}
    )
    moved = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "How many of each kind moved from the old install: reports, "
            "feedback, votes, contact_details, notifications, messages, "
            "notification_preferences.",
            "example": {"reports": 3, "feedback": 1, "votes": 2},
        },
    )
