from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.privacy.phones import Phone
from copa.web.schemas import StrictSchema, Text


class ContactIn(StrictSchema):
    """How to reach the resident about this one submission (optional; erasable)."""

    name = Text(validate=validate.Length(min=1, max=120))
    email = fields.Email(validate=validate.Length(max=254))
    phone = Phone()
    notify_by_email = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Also send updates on this submission to the email address (each "
            "email has a one-click unsubscribe link). Needs an email."
        },
    )

    @validates_schema
    def _something_to_reach(self, data, **kwargs):  # noqa: ANN001
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("Give an email address or a phone number.", "_schema")
        if data.get("notify_by_email") and not data.get("email"):
            raise ValidationError("Give an email address to hear by email.", "notify_by_email")


class ContactOut(Schema):
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(
        allow_none=True, metadata={"description": "E.164.", "example": "+441642301653"}
    )


class ResidentContactOut(ContactOut):
    """The contact details as the resident who gave them sees them, with their email choice."""

    notify_by_email = fields.Boolean(
        required=True, metadata={"description": "false after an unsubscribe link is used."}
    )


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
