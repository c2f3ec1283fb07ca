"""What the unsubscribe link answers (copa/notifications/unsubscribe_views.py)."""

from __future__ import annotations

from marshmallow import Schema, fields


class UnsubscribedOut(Schema):
    unsubscribed = fields.Boolean(required=True, metadata={"example": True})
    detail = fields.String(required=True)
