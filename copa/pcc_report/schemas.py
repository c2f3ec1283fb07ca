"""The query and the JSON of the Commissioner's quarterly report.

``PccReportOut`` is the contract between the assembly (``service.pcc_report``) and the CSV and
HTML renderers (``render``): percentages 0-100 to one decimal, times in seconds, counts as ints.
Quarter rows are always eight, the baseline year's Q1-Q4 then the current year's; a quarter
after the reported one has ``reported: false`` and every measure null.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from copa.metrics.click_schemas import ClickChangeOut, SignpostClicksOut
from copa.metrics.schemas import (
    AllegationsOut,
    AnswersOut,
    ChannelCountsOut,
    IntervalOut,
    OptionCountsOut,
    PartnerPerformanceOut,
    SatisfactionRateOut,
    SubmissionsOut,
    TargetsInForceOut,
)
from copa.web.schemas import StrictSchema

_YEARS = validate.Range(min=2000, max=2100)


class PccReportQuery(StrictSchema):
    year = fields.Integer(
        required=True,
        validate=_YEARS,
        metadata={"description": "The financial year, by the year it starts: 2025 for 2025/26."},
    )
    quarter = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=4),
        metadata={"description": "1 (April-June) to 4 (January-March); must have started."},
    )
    baseline_year = fields.Integer(
        validate=_YEARS,
        metadata={"description": "The year shown beside it (default: the year before)."},
    )


class PccQuarterOut(Schema):
    fiscal_year = fields.Integer(required=True)
    quarter = fields.Integer(required=True)
    label = fields.String(required=True, metadata={"example": "2025/26 Q3"})


class PccQuarterRowOut(PccQuarterOut):
    reported = fields.Boolean(
        required=True,
        metadata={"description": "False for a quarter after the reported one: measures null."},
    )


class PccYearOut(Schema):
    fiscal_year = fields.Integer(required=True)
    label = fields.String(required=True, metadata={"example": "2025/26"})


class PccOptionOut(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)


class PccSurveyContextOut(Schema):
    source = fields.String(required=True)
    cleveland_percent = fields.Integer(required=True)
    national_percent = fields.Integer(required=True)


class PccConfidenceQuarterOut(PccQuarterRowOut):
    n = fields.Integer(required=True, allow_none=True)
    counts = fields.Nested(OptionCountsOut, required=True, allow_none=True)
    channels = fields.Nested(ChannelCountsOut, required=True, allow_none=True)
    percent_confident = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "(Quite + very) / n x 100; null when n is 0."},
    )
    interval = fields.Nested(
        IntervalOut,
        required=True,
        allow_none=True,
        metadata={"description": "95% Wilson score interval, percent."},
    )
    net_confidence = fields.Float(required=True, allow_none=True)


class PccConfidenceOut(Schema):
    question = fields.String(required=True)
    options = fields.List(fields.Nested(PccOptionOut), required=True)
    context = fields.Nested(
        PccSurveyContextOut,
        required=True,
        metadata={"description": "A survey, not a vote: shown beside, not comparable."},
    )
    quarters = fields.List(fields.Nested(PccConfidenceQuarterOut), required=True)


class PccCallStatisticsOut(Schema):
    non_emergency_calls = fields.Integer(required=True)
    answered_within_2_minutes_percent = fields.Float(required=True)
    average_wait_seconds = fields.Integer(required=True)


class PccChangeOut(Schema):
    non_emergency_calls_percent = fields.Float(required=True, allow_none=True)
    answered_within_2_minutes_points = fields.Float(required=True, allow_none=True)
    average_wait_seconds = fields.Integer(required=True, allow_none=True)


class PccClickCountOut(Schema):
    count = fields.Integer(required=True)
    share_percent = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Of the quarter's click-throughs, one decimal; null at 0."},
    )


def _every(what: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.Nested(PccClickCountOut),
        required=True,
        metadata={"description": f"Every {what} of the section's list, 0 when none."},
    )


class PccClickThroughsOut(Schema):
    """Taps on signpost links in the app and visits through /go/, force-wide."""

    total = fields.Integer(required=True)
    by_topic = _every("topic (`topics`)")
    by_destination_kind = _every("destination kind (`destination_kinds`)")
    change_against_baseline = fields.Nested(
        ClickChangeOut,
        required=True,
        allow_none=True,
        metadata={
            "description": "Against the same quarter of the baseline year; null in the "
            "baseline year's rows."
        },
    )


class PccClickThroughsBySignpostOut(Schema):
    quarter = fields.Nested(PccQuarterOut, required=True)
    signposts = fields.List(
        fields.Nested(SignpostClicksOut),
        required=True,
        metadata={
            "description": "The reported quarter's click-throughs per signpost clicked in it or "
            "in its baseline quarter, most first; baseline: the same quarter of the baseline year."
        },
    )


class PccDemandQuarterOut(PccQuarterRowOut):
    submissions = fields.Nested(SubmissionsOut, required=True, allow_none=True)
    referred_to_partners = fields.Integer(required=True, allow_none=True)
    would_have_called_101 = fields.Nested(AnswersOut, required=True, allow_none=True)
    calls_avoided = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": 'Estimated: the "yes" answers to "would you have phoned 101?".'},
    )
    minutes_saved = fields.Float(required=True, allow_none=True)
    call_statistics = fields.Nested(PccCallStatisticsOut, required=True, allow_none=True)
    change_against_baseline = fields.Nested(
        PccChangeOut,
        required=True,
        allow_none=True,
        metadata={"description": "Null in the baseline year's rows or without statistics."},
    )
    click_throughs = fields.Nested(PccClickThroughsOut, required=True, allow_none=True)


class PccDemandOut(Schema):
    minutes_per_call = fields.Float(
        required=True, metadata={"description": "Call-handler minutes per call, reported quarter."}
    )
    topics = fields.List(
        fields.Nested(PccOptionOut),
        required=True,
        metadata={"description": "Signpost topics, in order: the keys of `by_topic`."},
    )
    destination_kinds = fields.List(
        fields.Nested(PccOptionOut),
        required=True,
        metadata={"description": "Destination kinds: the keys of `by_destination_kind`."},
    )
    quarters = fields.List(fields.Nested(PccDemandQuarterOut), required=True)
    click_throughs_by_signpost = fields.Nested(PccClickThroughsBySignpostOut, required=True)


class PccFeedbackQuarterOut(PccQuarterRowOut):
    complaints_logged = fields.Integer(required=True, allow_none=True)
    allegations = fields.Nested(AllegationsOut, required=True, allow_none=True)
    escalated = fields.Integer(required=True, allow_none=True)
    service_recovery = fields.Integer(required=True, allow_none=True)
    median_time_to_first_contact_seconds = fields.Integer(required=True, allow_none=True)
    satisfaction = fields.Nested(SatisfactionRateOut, required=True, allow_none=True)
    compliments = fields.Integer(required=True, allow_none=True)
    suggestions = fields.Integer(required=True, allow_none=True)


class PccFeedbackOut(Schema):
    allegation_groups = fields.List(fields.Nested(PccOptionOut), required=True)
    quarters = fields.List(fields.Nested(PccFeedbackQuarterOut), required=True)


class PccIssueCategoryOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    count = fields.Integer(required=True)
    share_percent = fields.Float(required=True, allow_none=True)


class PccAuthorityIssuesOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    count = fields.Integer(required=True)
    outcomes = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Reports per outcome code (routing records a provisional one: "
            "`passed_to_force_control_room`, `with_opcc` or `referred_to_partner`; a partner's "
            "resolution `resolved_by_partner`); `none_recorded` only for a report not yet "
            "routed or decided."
        },
    )


class PccIssuesOut(Schema):
    quarter = fields.Nested(PccQuarterOut, required=True)
    categories = fields.List(
        fields.Nested(PccIssueCategoryOut), required=True, metadata={"description": "Top 10."}
    )
    by_local_authority = fields.List(fields.Nested(PccAuthorityIssuesOut), required=True)


class PccPartnersOut(Schema):
    quarter = fields.Nested(PccQuarterOut, required=True)
    partners = fields.List(fields.Nested(PartnerPerformanceOut), required=True)


class PccWithinTargetOut(Schema):
    """One measure of one quarter, counts below 5 suppressed (null, with ``suppressed``)."""

    counted = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "Items begun in the quarter whose target is decided: acted on, or "
            "still waiting after their due time. Null when below 5."
        },
    )
    handled = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Of those, acted on. Null when it or the rest is 1 to 4."},
    )
    within_target = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Of those, acted on in time. Null when it or the rest is 1 to 4."},
    )
    percent_within_target = fields.Float(required=True, allow_none=True)
    suppressed = fields.Boolean(
        required=True, metadata={"description": "A figure was withheld: a count below 5."}
    )


class PccTargetsQuarterOut(PccQuarterRowOut):
    reports = fields.Nested(
        PccWithinTargetOut,
        required=True,
        allow_none=True,
        metadata={"description": "Reports first acted on by staff or a partner."},
    )
    complaints = fields.Nested(
        PccWithinTargetOut,
        required=True,
        allow_none=True,
        metadata={"description": "Complaint cases whose complainant was first contacted."},
    )
    referrals = fields.Nested(
        PccWithinTargetOut,
        required=True,
        allow_none=True,
        metadata={"description": "Referrals acknowledged by their partner."},
    )


class PccTargetsOut(Schema):
    targets = fields.Nested(TargetsInForceOut, required=True)
    quarters = fields.List(fields.Nested(PccTargetsQuarterOut), required=True)


class PccReportOut(Schema):
    """The quarterly report: the baseline year's four quarters beside the current year's."""

    title = fields.String(required=True)
    organisation = fields.String(required=True)
    quarter = fields.Nested(PccQuarterOut, required=True)
    current_year = fields.Nested(PccYearOut, required=True)
    baseline_year = fields.Nested(PccYearOut, required=True)
    generated_at = fields.String(required=True, metadata={"format": "date-time"})
    caveats = fields.List(fields.String(), required=True)
    public_confidence = fields.Nested(PccConfidenceOut, required=True)
    demand_reduction = fields.Nested(PccDemandOut, required=True)
    feedback_and_complaints = fields.Nested(PccFeedbackOut, required=True)
    most_common_issues = fields.Nested(PccIssuesOut, required=True)
    partner_performance = fields.Nested(PccPartnersOut, required=True)
    within_target = fields.Nested(
        PccTargetsOut,
        required=True,
        metadata={
            "description": "The share handled within target per quarter (public: counts below 5 suppressed)."
        },
    )
