"""Response parts of the signpost click-throughs in the demand measures (``/v1/metrics/demand``
and the PCC report's demand section)."""

from __future__ import annotations

from marshmallow import Schema, fields

_NO_WARD_CLICKS = (
    "Null when the area filter is a ward: click-throughs are counted per local authority "
    "only (the signpost's own, or the one the click came from), so no ward has a figure."
)
_BASELINE = (
    "The same months of the same quarter of the baseline year (`baseline_year`, default the "
    "year before the quarter's own) as the range covers of this quarter."
)


class ClickCountOut(Schema):
    label = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "Click-throughs."})
    share_percent = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Of all click-throughs of the quarter, one decimal; null at 0."},
    )
    baseline_count = fields.Integer(required=True, metadata={"description": _BASELINE})
    change_percent = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Relative change against baseline_count; null when it is 0."},
    )


class TopicClicksOut(ClickCountOut):
    topic = fields.String(required=True, metadata={"example": "report_crime_online"})


class DestinationKindClicksOut(ClickCountOut):
    destination_kind = fields.String(required=True, metadata={"example": "police"})


class SignpostClicksOut(ClickCountOut):
    id = fields.UUID(required=True)
    code = fields.String(required=True, metadata={"example": "report-crime-online"})
    title = fields.String(required=True, metadata={"description": "Also its `label`."})
    organisation = fields.String(required=True)
    topic = fields.String(
        required=True,
        metadata={"description": "The signpost's topic now (its clicks keep theirs)."},
    )


class ClickChangeOut(Schema):
    total_baseline = fields.Integer(required=True, metadata={"description": _BASELINE})
    total_change_percent = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Relative change, percent; null when the baseline had none."},
    )


def _click_items(schema: type[Schema], what: str) -> fields.List:
    return fields.List(
        fields.Nested(schema),
        required=True,
        metadata={
            "description": f"Per {what} with click-throughs in the quarter or its baseline, "
            "most first, then by label."
        },
    )


class ClickThroughsOut(Schema):
    """Taps on signpost links in the app and visits through /go/ (the area filter applies
    for a local authority; the click's topic and kind as they were at the click)."""

    total = fields.Integer(required=True)
    by_topic = _click_items(TopicClicksOut, "topic")
    by_destination_kind = _click_items(DestinationKindClicksOut, "destination kind")
    by_signpost = _click_items(SignpostClicksOut, "signpost")
    change_against_baseline = fields.Nested(ClickChangeOut, required=True)


def click_throughs_field() -> fields.Nested:
    return fields.Nested(
        ClickThroughsOut, required=True, allow_none=True, metadata={"description": _NO_WARD_CLICKS}
    )
