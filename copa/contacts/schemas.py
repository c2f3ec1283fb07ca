from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.contacts.phones import Phone
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
