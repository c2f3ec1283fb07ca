"""What callers may send and see of two-way messages between OPCC staff and residents.

Residents see who wrote to them by team ("OPCC", "Resolution Team"), never a member of staff by
name; partners see only the text and time of a message staff passed on to them. Only
marshmallow and the shared schema base here: the staff report and partner referral schemas
nest these, and the complaint case schema names StaffMessageOut by string (feedback sits
below this feature).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from copa.web.schemas import StrictSchema, Text

MESSAGE_LENGTH = validate.Length(min=1, max=4000)


class StaffMessageIn(StrictSchema):
    """A message from staff to the resident: a request for more information, or news."""

    text = Text(required=True, validate=MESSAGE_LENGTH)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["information_request", "message"]),
        metadata={
            "description": "information_request asks the resident to answer; message tells them "
            "something."
        },
    )


class ResidentMessageIn(StrictSchema):
    """The resident's message: an answer to a message from staff, or more information."""

    text = Text(required=True, validate=MESSAGE_LENGTH)
    in_reply_to = fields.UUID(
        metadata={
            "description": "The id of the message from staff this answers. Without it, the text "
            "is more information for an open report or complaint."
        }
    )


class ResidentMessageOut(Schema):
    """A message of the conversation on the resident's own report or feedback."""

    id = fields.UUID(required=True)
    direction = fields.String(
        required=True, metadata={"description": "to_resident or from_resident"}
    )
    kind = fields.String(
        required=True,
        metadata={"description": "information_request, message, reply or information"},
    )
    sender = fields.String(
        data_key="from",
        required=True,
        metadata={"description": "OPCC, Resolution Team, or You.", "example": "OPCC"},
    )
    text = fields.String(required=True)
    in_reply_to = fields.UUID(attribute="in_reply_to_id", allow_none=True)
    awaiting_reply = fields.Boolean(
        required=True,
        metadata={"description": "A request for information that has no answer from you yet."},
    )
    created_at = fields.DateTime(required=True)


class MessageAuthorOut(Schema):
    id = fields.UUID(required=True)
    display_name = fields.String(required=True, metadata={"example": "Sam Jones"})


class StaffMessageOut(Schema):
    """A message of the conversation with the resident, as OPCC staff see it."""

    id = fields.UUID(required=True)
    direction = fields.String(
        required=True, metadata={"description": "to_resident or from_resident"}
    )
    kind = fields.String(
        required=True,
        metadata={"description": "information_request, message, reply or information"},
    )
    text = fields.String(required=True)
    author = fields.Nested(
        MessageAuthorOut,
        allow_none=True,
        metadata={"description": "The member of staff who wrote it; null for the resident's."},
    )
    in_reply_to = fields.UUID(attribute="in_reply_to_id", allow_none=True)
    created_at = fields.DateTime(required=True)
    passed_to_partner_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "When staff let the report's partners read it; null: never."},
    )


class PartnerMessageOut(Schema):
    """A message staff passed on to the partner: what it says and when, nothing of who."""

    text = fields.String(required=True)
    created_at = fields.DateTime(required=True)
