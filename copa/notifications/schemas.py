from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from copa.notifications.catalogue import LANGUAGES
from copa.web.schemas import StrictBoolean, StrictSchema, Text

PLATFORMS = ("android", "ios")


class PushTokenIn(StrictSchema):
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    # FCM registration tokens are ~160-200 characters, APNs device tokens 64 hex characters;
    # printable ASCII with no spaces either way.
    token = fields.String(
        required=True,
        validate=[
            validate.Length(min=8, max=4096),
            validate.Regexp(r"^[\x21-\x7e]+$", error="Printable ASCII without spaces."),
        ],
    )
    locale = fields.String(
        load_default=None,
        allow_none=True,
        validate=[
            validate.Length(max=35),  # the column's size: RFC 5646's practical limit
            validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", error="A BCP 47 tag."),
        ],
        metadata={"example": "en-GB"},
    )
    app_version = Text(load_default=None, allow_none=True, validate=validate.Length(max=32))


class PushTokenOut(StrictSchema):
    platform = fields.String(required=True)
    locale = fields.String(allow_none=True)
    app_version = fields.String(allow_none=True)
    updated_at = fields.DateTime(required=True)


class NotificationOut(StrictSchema):
    id = fields.UUID(required=True)
    event = fields.String(required=True, metadata={"example": "report.resolved"})
    reference = fields.String(allow_none=True, metadata={"example": "COPA-26-000123"})
    report_id = fields.UUID(allow_none=True)
    feedback_id = fields.UUID(allow_none=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    note = fields.String(
        allow_none=True, metadata={"description": "The public note of staff or a partner."}
    )
    created_at = fields.DateTime(required=True)
    read = fields.Function(lambda n: n.read_at is not None, required=True)
    read_at = fields.DateTime(allow_none=True)


class InboxOut(StrictSchema):
    items = fields.List(fields.Nested(NotificationOut), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
    unread = fields.Integer(required=True)


class MarkReadIn(StrictSchema):
    ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=100))
    all = StrictBoolean()

    @validates_schema
    def _one_of(self, data, **kwargs):  # noqa: ANN001
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("Give the ids to mark read, or all: true.", "_schema")


class MarkReadOut(StrictSchema):
    marked = fields.Integer(required=True)
    unread = fields.Integer(required=True)


class QuietHours(StrictSchema):
    start = fields.Time(required=True, metadata={"example": "22:00:00"})
    end = fields.Time(required=True, metadata={"example": "07:00:00"})

    @validates_schema
    def _not_empty(self, data, **kwargs):  # noqa: ANN001
        if data["start"] == data["end"]:
            raise ValidationError(
                "Start and end must differ (leave quiet hours out instead).", "end"
            )
        for name in ("start", "end"):
            if data[name].tzinfo is not None:
                raise ValidationError("A wall-clock time in Europe/London, with no offset.", name)


class PreferencesOut(StrictSchema):
    push = fields.Boolean(required=True)
    email = fields.Boolean(required=True)
    quiet_hours = fields.Method("_quiet", allow_none=True)
    time_zone = fields.Constant("Europe/London")
    language = fields.String(required=True)
    languages = fields.Constant(sorted(LANGUAGES))

    def _quiet(self, preferences):  # noqa: ANN001
        if preferences.quiet_hours_start is None:
            return None
        return {
            "start": preferences.quiet_hours_start.isoformat(),
            "end": preferences.quiet_hours_end.isoformat(),
        }


class PreferencesIn(StrictSchema):
    push = StrictBoolean()
    email = StrictBoolean()
    quiet_hours = fields.Nested(
        QuietHours,
        allow_none=True,
        metadata={"description": "Pushes and emails wait until the end; the inbox is immediate."},
    )
    language = fields.String(validate=validate.OneOf(sorted(LANGUAGES)))

    @validates_schema
    def _something(self, data, **kwargs):  # noqa: ANN001
        if not data:
            raise ValidationError(
                "Give at least one of push, email, quiet_hours, language.", "_schema"
            )


class SentOut(StrictSchema):
    """What the resident was sent about a submission, per channel (staff views)."""

    notification_id = fields.UUID(required=True)
    event = fields.String(required=True)
    channel = fields.String(
        required=True, metadata={"description": "inbox, fcm, apns or resident_email"}
    )
    at = fields.DateTime(required=True)
    result = fields.String(
        required=True,
        metadata={
            "description": "delivered, failed, held (quiet hours), pending, retrying, "
            "unsubscribed or cancelled"
        },
    )
    attempts = fields.Integer(required=True)
    delivered_at = fields.DateTime(allow_none=True)
    title = fields.String(required=True, metadata={"description": "What the lock screen showed."})
