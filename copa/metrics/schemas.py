"""Query and response schemas of the metrics API (aggregates only: no personal data)."""

from __future__ import annotations

import re
from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.areas.schemas import GSS_CODE
from copa.confidence.service import OPTION_KEYS
from copa.metrics.click_schemas import click_throughs_field
from copa.metrics.complaints import ALLEGATION_GROUPS
from copa.metrics.confidence import CHANNELS
from copa.metrics.demand import CALL_ANSWERS
from copa.metrics.ranges import MAX_MONTHS, default_months
from copa.web.schemas import StrictSchema, Text

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_AREA_LEVELS = ("ward", "local_authority")
_YEARS = validate.Range(min=2000, max=2100)


class Month(fields.Field):
    """A Europe/London month written ``YYYY-MM``; loaded as the month's first day."""

    default_error_messages = {"invalid": "Not a month: write it as YYYY-MM (e.g. 2025-10)."}

    def _deserialize(self, value, attr, data, **kwargs) -> date:  # noqa: ANN001, ANN003
        match = _MONTH.match(value) if isinstance(value, str) else None
        if match is None or not 2000 <= int(match.group(1)) <= 2100:
            raise self.make_error("invalid")
        return date(int(match.group(1)), int(match.group(2)), 1)

    def _serialize(self, value, attr, obj, **kwargs) -> str | None:  # noqa: ANN001, ANN003
        return None if value is None else f"{value.year:04d}-{value.month:02d}"


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


class RangeQuery(StrictSchema):
    """Europe/London months, both inclusive."""

    first = Month(
        data_key="from",
        load_default=lambda: default_months()[0],
        metadata={
            "type": "string",
            "example": "2025-04",
            "description": "First month, YYYY-MM (default: the first month of this financial "
            "year, April).",
        },
    )
    last = Month(
        data_key="to",
        load_default=lambda: default_months()[1],
        metadata={
            "type": "string",
            "example": "2026-03",
            "description": f"Last month, YYYY-MM, inclusive (default: this month). At most "
            f"{MAX_MONTHS} months from `from`.",
        },
    )

    @validates_schema
    def _ordered_and_bounded(self, data, **kwargs) -> None:  # noqa: ANN001, ANN003
        first, last = data.get("first"), data.get("last")
        if first is None or last is None:
            return
        if first > last:
            raise ValidationError({"from": ["Must not be after `to`."]})
        if _months_between(first, last) > MAX_MONTHS:
            raise ValidationError({"to": [f"At most {MAX_MONTHS} months after `from`."]})


class AreaRangeQuery(RangeQuery):
    area = Text(
        validate=validate.Regexp(GSS_CODE, error="Not a ward or local authority code."),
        metadata={
            "example": "E06000002",
            "description": "A ward or local authority GSS code: only what happened there.",
        },
    )


class ConfidenceQuery(AreaRangeQuery):
    channel = fields.String(
        validate=validate.OneOf(CHANNELS),
        metadata={"description": "Only app votes, or only event counters (default: both)."},
    )
    group_by = fields.String(
        load_default="quarter",
        validate=validate.OneOf(("quarter", "month", "area")),
        metadata={
            "description": "`area`: per local authority, or with a local authority in `area`, "
            "per ward plus a row for the votes cast for the authority as a whole."
        },
    )


class DemandQuery(AreaRangeQuery):
    baseline_year = fields.Integer(
        validate=_YEARS,
        metadata={
            "description": "Financial year (2024 for 2024/25) whose same quarter the call "
            "statistics and click-throughs are compared with (default: the year before each "
            "quarter's own)."
        },
    )


class IssuesQuery(AreaRangeQuery):
    level = fields.String(
        load_default="local_authority",
        validate=validate.OneOf(_AREA_LEVELS),
        metadata={"description": "Break reports down per local authority or per ward."},
    )
    limit = fields.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "How many of the most common categories to list."},
    )


# --- shared response parts ----------------------------------------------------------------


class MetricsAreaOut(Schema):
    code = fields.String(required=True, metadata={"example": "E06000002"})
    name = fields.String(required=True, metadata={"example": "Middlesbrough"})
    level = fields.String(required=True, metadata={"enum": list(_AREA_LEVELS)})


class RangeOut(Schema):
    first = fields.String(
        required=True, attribute="from", data_key="from", metadata={"example": "2025-04"}
    )
    last = fields.String(
        required=True, attribute="to", data_key="to", metadata={"example": "2026-03"}
    )
    area = fields.Nested(
        MetricsAreaOut, required=True, allow_none=True, metadata={"description": "The area filter."}
    )


def _counts_schema(name: str, keys: tuple[str, ...], description: str) -> type[Schema]:
    """A schema of one integer per key, named for the OpenAPI components."""
    members = {key: fields.Integer(required=True) for key in keys}
    return type(name, (Schema,), {"__doc__": description, **members})


OptionCountsOut = _counts_schema(
    "OptionCountsOut", OPTION_KEYS, "Answers per option, least to most confident."
)
ChannelCountsOut = _counts_schema(
    "ConfidenceChannelsOut", CHANNELS, "Answers per channel: app votes and event counters."
)
AnswersOut = _counts_schema(
    "CallAnswersOut",
    (*CALL_ANSWERS, "unanswered"),
    'Answers to "Would you otherwise have phoned 101?" on reports and questions.',
)
AllegationsOut = _counts_schema(
    "AllegationGroupsOut", ALLEGATION_GROUPS, "Allegations per PCC-report group."
)


class QuarterKey(Schema):
    fiscal_year = fields.Integer(
        metadata={"description": "The year the financial year starts: 2025 for 2025/26."}
    )
    quarter = fields.Integer(metadata={"description": "1 (April-June) to 4 (January-March)."})
    label = fields.String(metadata={"example": "2025/26 Q3"})


# --- confidence ---------------------------------------------------------------------------


class IntervalOut(Schema):
    lower = fields.Float(required=True, metadata={"example": 41.9})
    upper = fields.Float(required=True, metadata={"example": 48.1})


class ConfidenceMeasuresOut(Schema):
    n = fields.Integer(required=True, metadata={"description": "All valid answers."})
    counts = fields.Nested(OptionCountsOut, required=True)
    channels = fields.Nested(ChannelCountsOut, required=True)
    percent_confident = fields.Float(
        required=True,
        allow_none=True,
        metadata={
            "description": "(Quite + very confident) / n x 100, one decimal; `neither` stays "
            "in n. Null when n is 0."
        },
    )
    interval = fields.Nested(
        IntervalOut,
        required=True,
        allow_none=True,
        metadata={"description": "95% Wilson score interval of percent_confident, in percent."},
    )
    net_confidence = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "% confident - % not confident (not at all + not very), points."},
    )


class ConfidenceGroupOut(QuarterKey, ConfidenceMeasuresOut):
    """One group: a quarter (fiscal_year, quarter, label), a month, or an area."""

    month = fields.String(metadata={"example": "2025-10"})
    area = fields.Nested(MetricsAreaOut)


class ConfidenceOut(RangeOut):
    channel = fields.String(required=True, allow_none=True, metadata={"enum": list(CHANNELS)})
    group_by = fields.String(required=True, metadata={"enum": ["quarter", "month", "area"]})
    groups = fields.List(fields.Nested(ConfidenceGroupOut), required=True)
    total = fields.Nested(ConfidenceMeasuresOut, required=True)
    caveat = fields.String(required=True)


# --- demand -------------------------------------------------------------------------------


class SubmissionsOut(Schema):
    report = fields.Integer(required=True, metadata={"description": "Reports (not questions)."})
    question = fields.Integer(
        required=True, metadata={"description": "Questions for the Commissioner's office."}
    )
    feedback = fields.Integer(required=True)
    total = fields.Integer(required=True)


class CategoryCountOut(Schema):
    code = fields.String(required=True, metadata={"example": "asb"})
    name = fields.String(required=True)
    count = fields.Integer(required=True)


class SubmissionChannelsOut(Schema):
    app = fields.Integer(
        required=True, metadata={"description": "Reports, questions and feedback (app only)."}
    )
    open311 = fields.Integer(required=True, metadata={"description": "Reports through Open311."})


class QuarterCallStatisticsOut(Schema):
    non_emergency_calls = fields.Integer(required=True)
    answered_within_2_minutes_percent = fields.Float(required=True)
    average_wait_seconds = fields.Integer(required=True)
    emergency_calls = fields.Integer(allow_none=True)
    emergency_answered_within_10_seconds_percent = fields.Float(allow_none=True)
    average_handling_seconds = fields.Integer(allow_none=True)


class ChangeOut(Schema):
    non_emergency_calls_percent = fields.Float(
        required=True, allow_none=True, metadata={"description": "Relative change, percent."}
    )
    answered_within_2_minutes_points = fields.Float(
        required=True, allow_none=True, metadata={"description": "Difference, percentage points."}
    )
    average_wait_seconds = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Difference, seconds."}
    )


_CALLS_AVOIDED = (
    'Estimated 101 calls avoided: the "yes" answers to "Would you otherwise have phoned 101?".'
)


class DemandQuarterOut(QuarterKey):
    submissions = fields.Nested(SubmissionsOut, required=True)
    by_category = fields.List(
        fields.Nested(CategoryCountOut),
        required=True,
        metadata={"description": "Reports and questions per category, most first."},
    )
    by_channel = fields.Nested(SubmissionChannelsOut, required=True)
    referred_to_partners = fields.Integer(
        required=True,
        metadata={
            "description": "Reports sent straight to a partner outside the police (council, "
            "housing provider, health and social care, Environment Agency)."
        },
    )
    would_have_called_101 = fields.Nested(AnswersOut, required=True)
    calls_avoided = fields.Integer(required=True, metadata={"description": _CALLS_AVOIDED})
    minutes_per_call = fields.Float(
        required=True,
        metadata={
            "description": "The quarter's average handling time from its call statistics, else "
            "the configured COPA_CALL_HANDLER_MINUTES_PER_CALL."
        },
    )
    minutes_saved = fields.Float(
        required=True, metadata={"description": "calls_avoided x minutes_per_call."}
    )
    call_statistics = fields.Nested(
        QuarterCallStatisticsOut,
        required=True,
        allow_none=True,
        metadata={"description": "Force-wide, whatever the area filter; null if not imported."},
    )
    change_against_baseline = fields.Nested(
        ChangeOut,
        required=True,
        allow_none=True,
        metadata={"description": "Null when either quarter lacks call statistics."},
    )
    click_throughs = click_throughs_field()


class DemandTotalsOut(Schema):
    submissions = fields.Nested(SubmissionsOut, required=True)
    by_category = fields.List(fields.Nested(CategoryCountOut), required=True)
    by_channel = fields.Nested(SubmissionChannelsOut, required=True)
    referred_to_partners = fields.Integer(required=True)
    would_have_called_101 = fields.Nested(AnswersOut, required=True)
    calls_avoided = fields.Integer(required=True, metadata={"description": _CALLS_AVOIDED})
    minutes_saved = fields.Float(required=True)
    click_throughs = click_throughs_field()


class DemandOut(RangeOut):
    baseline_year = fields.Integer(required=True, allow_none=True)
    quarters = fields.List(fields.Nested(DemandQuarterOut), required=True)
    totals = fields.Nested(
        DemandTotalsOut,
        required=True,
        metadata={
            "description": "The range's sums; click-throughs' baseline is the sum of the "
            "quarters' baselines."
        },
    )
    caveat = fields.String(
        required=True,
        metadata={"description": "What click-throughs count: taps, not residents."},
    )


# --- feedback -----------------------------------------------------------------------------


class SatisfactionRateOut(Schema):
    answers = fields.Integer(
        required=True, metadata={"description": "Satisfaction answers given in the quarter."}
    )
    satisfied = fields.Integer(required=True, metadata={"description": "Scores of 4 or 5."})
    rate_percent = fields.Float(required=True, allow_none=True)


class FeedbackQuarterOut(QuarterKey):
    complaints_logged = fields.Integer(
        required=True, metadata={"description": "Expressions of dissatisfaction received."}
    )
    allegations = fields.Nested(
        AllegationsOut,
        required=True,
        metadata={
            "description": "Allegations recorded, force-wide: the area filter does not "
            "apply (allegations have no area)."
        },
    )
    escalated = fields.Integer(
        required=True,
        metadata={"description": "Cases logged in the quarter that were escalated (Schedule 3)."},
    )
    service_recovery = fields.Integer(
        required=True,
        metadata={
            "description": "Cases logged in the quarter handled by service recovery and never "
            "escalated."
        },
    )
    median_time_to_first_contact_seconds = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Exact median over the quarter's contacted cases."},
    )
    satisfaction = fields.Nested(SatisfactionRateOut, required=True)
    compliments = fields.Integer(required=True)
    suggestions = fields.Integer(required=True)


class FeedbackMetricsOut(RangeOut):
    quarters = fields.List(fields.Nested(FeedbackQuarterOut), required=True)


# --- issues -------------------------------------------------------------------------------


class IssueCategoryOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    group = fields.String(required=True, metadata={"example": "policing"})
    count = fields.Integer(required=True)
    share_percent = fields.Float(
        required=True, allow_none=True, metadata={"description": "Of all reports in the range."}
    )


class IssueAreaOut(MetricsAreaOut):
    count = fields.Integer(required=True)
    outcomes = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Reports per outcome code (reports/workflow.py REPORT_OUTCOMES: e.g. "
            "`passed_to_force_control_room`, `with_opcc`, `referred_to_partner`, "
            "`resolved_by_partner`, `resolved_by_opcc`); `none_recorded` only for a report "
            "not yet routed or decided."
        },
    )
    destinations = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Reports per destination kind."},
    )


class IssuesOut(RangeOut):
    level = fields.String(required=True, metadata={"enum": list(_AREA_LEVELS)})
    total = fields.Integer(required=True, metadata={"description": "All reports in the range."})
    categories = fields.List(fields.Nested(IssueCategoryOut), required=True)
    by_area = fields.List(fields.Nested(IssueAreaOut), required=True)
    without_area = fields.Integer(
        required=True, metadata={"description": "Reports with no location (e.g. questions)."}
    )


# --- partners -----------------------------------------------------------------------------

_ESTIMATE = (
    "Estimated from the rollup's histogram of times (duration buckets): linear interpolation "
    "inside the bucket holding the median, or that bucket's mean in the open last bucket. "
    "Null when none."
)


class PartnerPerformanceOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"example": "council"})
    sent = fields.Integer(required=True, metadata={"description": "Referrals sent in the range."})
    acknowledged = fields.Integer(
        required=True, metadata={"description": "Of those, how many were acknowledged."}
    )
    resolved = fields.Integer(
        required=True, metadata={"description": "Of those, how many were resolved."}
    )
    median_seconds_to_acknowledge = fields.Integer(
        required=True, allow_none=True, metadata={"description": _ESTIMATE}
    )
    median_seconds_to_resolve = fields.Integer(
        required=True, allow_none=True, metadata={"description": _ESTIMATE}
    )


class PartnersOut(RangeOut):
    partners = fields.List(fields.Nested(PartnerPerformanceOut), required=True)


# --- within target ------------------------------------------------------------------------


class WithinTargetOut(Schema):
    """One measure in one quarter (items counted by the quarter they began in)."""

    counted = fields.Integer(
        required=True,
        metadata={
            "description": "Items whose target is decided: acted on, or still waiting after "
            "their due time (missed). Items settled without ever being acted on are not "
            "counted; those still inside their target are counted later."
        },
    )
    handled = fields.Integer(
        required=True,
        metadata={"description": "Of those, how many were acted on (at any time)."},
    )
    within_target = fields.Integer(
        required=True, metadata={"description": "Of those, how many were acted on in time."}
    )
    percent_within_target = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "within_target / counted, %, one decimal; null when none."},
    )


class TargetQuarterOut(Schema):
    quarter = fields.Nested(QuarterKey, required=True)
    reports = fields.Nested(
        WithinTargetOut,
        required=True,
        metadata={"description": "Reports first acted on by staff or a partner (see targets)."},
    )
    complaints = fields.Nested(
        WithinTargetOut,
        required=True,
        metadata={"description": "Complaint cases whose complainant was first contacted."},
    )
    referrals = fields.Nested(
        WithinTargetOut,
        required=True,
        metadata={"description": "Referrals acknowledged by their partner."},
    )


class TargetsInForceOut(Schema):
    report_first_action_hours = fields.Integer(required=True)
    category_hours = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    complaint_first_contact_hours = fields.Integer(required=True)
    referral_acknowledgement_hours = fields.Integer(required=True)


class TargetsMetricsOut(RangeOut):
    suppressed = fields.Boolean(
        required=True,
        metadata={
            "description": "Always false: staff-only figures, small counts not suppressed "
            "(the quarterly report suppresses counts below 5)."
        },
    )
    targets = fields.Nested(
        TargetsInForceOut,
        required=True,
        metadata={"description": "The targets in force now, that every figure is measured by."},
    )
    quarters = fields.List(fields.Nested(TargetQuarterOut), required=True)
