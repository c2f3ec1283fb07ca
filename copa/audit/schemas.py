"""Staff-only records as staff see them: audit events, internal notes and their authors.

Low in the tree (beside the audit log), so every feature's staff pages can show them.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from copa.web.schemas import StrictSchema, Text


class AuditEventOut(Schema):
    id = fields.UUID(required=True)
    at = fields.DateTime(required=True)
    actor_kind = fields.String(required=True, metadata={"example": "staff"})
    actor_id = fields.UUID(allow_none=True)
    actor_roles = fields.Function(
        lambda event: [role for role in event.actor_roles.split(",") if role],
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    action = fields.String(required=True, metadata={"example": "report.transition"})
    target_kind = fields.String(required=True, metadata={"example": "report"})
    target_id = fields.UUID(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class StaffMemberOut(Schema):
    """A staff member as other staff see them: who holds a case, who wrote a note."""

    id = fields.UUID(required=True)
    display_name = fields.String(required=True, metadata={"example": "Sam Jones"})


class InternalNoteOut(Schema):
    id = fields.UUID(required=True)
    text = fields.String(required=True)
    at = fields.DateTime(required=True)
    author = fields.Nested(StaffMemberOut, allow_none=True)


class InternalNoteIn(StrictSchema):
    text = Text(required=True, validate=validate.Length(min=1, max=4000))
