from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates

from copa.areas.schemas import AreaOut, PointIn
from copa.catalog.schemas import AnsweredQuestionOut
from copa.contacts.schemas import ContactIn, ResidentContactOut
from copa.emergency import EMERGENCY_ADVICE
from copa.signposts import service as signposts
from copa.signposts.schemas import OfferedSignposts
from copa.web.schemas import StrictSchema, Text

WOULD_HAVE_CALLED_101 = ("yes", "no", "not_sure")
_CLOCK_SKEW = timedelta(minutes=5)  # phones' clocks run a little fast


class ReportIn(StrictSchema):
    """What a resident may set on a new report (not status, destination or priority)."""

    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = Text(required=True, validate=validate.Length(min=1, max=4000))
    location = fields.Nested(PointIn, metadata={"description": "Required except for questions."})
    address_text = Text(validate=validate.Length(min=1, max=300))
    occurred_at = fields.AwareDateTime(
        metadata={"description": "When it happened (ISO 8601 with an offset); not in the future."}
    )
    happening_now = fields.Boolean(load_default=False)
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.Raw(allow_none=False),
        load_default=dict,
        metadata={"description": "Answers to the category's extra questions, by question code."},
    )
    anonymous = fields.Boolean(load_default=False)
    contact = fields.Nested(ContactIn)
    share_contact_with_partner = fields.Boolean(load_default=False)
    would_have_called_101 = fields.String(validate=validate.OneOf(WOULD_HAVE_CALLED_101))

    @validates("occurred_at")
    def _not_in_the_future(self, value: datetime, **kwargs) -> None:  # noqa: ANN003
        if value.astimezone(UTC) > datetime.now(UTC) + _CLOCK_SKEW:
            raise ValidationError("Must not be in the future.")
        if value.year < 2000:
            raise ValidationError("Must be in 2000 or later.")


class CategoryRefOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class DestinationOut(Schema):
    kind = fields.String(required=True, metadata={"example": "council"})
    name = fields.String(required=True, metadata={"example": "Middlesbrough Council"})


class TimelineEntryOut(Schema):
    """The public part of a status change."""

    at = fields.DateTime(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    public_note = fields.String(allow_none=True)


# The documented answer of a route that returns a stored photo's bytes.
PHOTO_BYTES_RESPONSES = {
    "200": {
        "description": "The photo",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "default": "DEFAULT_ERROR",
}


class PhotoFacts(Schema):
    """What is known of a stored photo (it was re-encoded: no metadata)."""

    id = fields.UUID(required=True)
    content_type = fields.String(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    size_bytes = fields.Integer(required=True)


class PhotoOut(PhotoFacts):
    created_at = fields.DateTime(required=True)
    url = fields.Function(
        lambda photo: url_for("reports.ReportPhoto", report_id=photo.report_id, photo_id=photo.id),
        required=True,
        metadata={"type": "string"},
    )


# The documented answers of routes that return a ready video's bytes, or its poster's.
VIDEO_BYTES_RESPONSES = {
    "200": {
        "description": "The video (MP4: H.264 and AAC), re-encoded with no metadata",
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
    },
    "206": {
        "description": "The part of the video a Range header asked for",
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
    },
    "default": "DEFAULT_ERROR",
}
POSTER_BYTES_RESPONSES = {
    "200": {
        "description": "The video's first picture (JPEG, no metadata)",
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    },
    "default": "DEFAULT_ERROR",
}


class VideoFacts(Schema):
    """What is known of a video: ``processing`` until the media worker has re-encoded it."""

    id = fields.UUID(required=True)
    state = fields.String(
        required=True,
        metadata={
            "enum": ["processing", "ready", "failed"],
            "description": "processing: not viewable yet; ready: url and poster_url work; "
            "failed: it could not be made playable (failure_reason says why).",
        },
    )
    failure_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "When failed: undecodable, incomplete, too_long, too_many_pixels, "
            "unreadable or unprocessable."
        },
    )
    content_type = fields.String(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    duration_seconds = fields.Float(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)


def ready_url(endpoint: str, **ids: str) -> fields.Function:
    """A link to a video's (or poster's) bytes, null until the video is ready."""
    return fields.Function(
        lambda video: (
            url_for(endpoint, **{k: getattr(video, v) for k, v in ids.items()})
            if video.state == "ready"
            else None
        ),
        allow_none=True,
        metadata={"type": "string"},
    )


class VideoOut(VideoFacts):
    created_at = fields.DateTime(required=True)
    url = ready_url("reports.ReportVideo", report_id="report_id", video_id="id")
    poster_url = ready_url("reports.ReportVideoPoster", report_id="report_id", video_id="id")


class PointOut(Schema):
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)


class ReportSummaryOut(Schema):
    id = fields.UUID(required=True)
    reference = fields.String(required=True, metadata={"example": "COPA-26-004213"})
    status = fields.String(required=True)
    category = fields.Nested(CategoryRefOut, required=True)
    area = fields.Nested(AreaOut, allow_none=True, metadata={"description": "None for a question."})
    created_at = fields.DateTime(required=True)


class ReportOut(ReportSummaryOut):
    """What the resident who made the report sees of it."""

    description = fields.String(required=True)
    location = fields.Nested(PointOut, allow_none=True)
    address_text = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    happening_now = fields.Boolean(required=True)
    answers = fields.Dict(required=True)
    answered_questions = fields.List(
        fields.Nested(AnsweredQuestionOut),
        required=True,
        metadata={"description": "The answers with the questions and choices as asked."},
    )
    anonymous = fields.Boolean(required=True)
    contact = fields.Nested(ResidentContactOut, allow_none=True)
    share_contact_with_partner = fields.Boolean(required=True)
    would_have_called_101 = fields.String(allow_none=True)
    destination = fields.Nested(DestinationOut, required=True)
    emergency_advice = fields.Function(
        lambda report: EMERGENCY_ADVICE if report.possible_emergency else None,
        allow_none=True,
        metadata={"type": "string", "description": "Present when the report may be an emergency."},
    )
    photos = fields.List(fields.Nested(PhotoOut), required=True)
    videos = fields.List(fields.Nested(VideoOut), required=True)
    timeline = fields.List(fields.Nested(TimelineEntryOut), required=True)
    updated_at = fields.DateTime(required=True)
    signposts = OfferedSignposts(
        lambda report: signposts.for_report(
            report.category.code, report.local_authority_code, report.outcome
        ),
        metadata={
            "description": "Other services relevant to this report or question: its category's "
            "in its area (a council's own page for what the council also takes online), or, "
            "when it is not for the police, where to go instead. Record a tap with the "
            "signpost's clicks_url."
        },
    )


class PhotoUploadIn(Schema):
    photo = Upload(
        required=True,
        metadata={
            "description": "A JPEG, PNG or HEIC/HEIF photo (image/jpeg, image/png, image/heic, "
            "image/heif; told apart by content), at most 8 MiB. Stored as JPEG (PNG when it has "
            "transparency)."
        },
    )


class VideoUploadIn(Schema):
    video = Upload(
        required=True,
        metadata={
            "description": "An MP4, MOV or 3GP video as the phone recorded it (told apart by "
            "content), at most 50 MiB (COPA_VIDEO_MAX_BYTES) and 60 seconds "
            "(COPA_VIDEO_MAX_SECONDS). Stored as MP4 (H.264, AAC) with no metadata."
        },
    )
