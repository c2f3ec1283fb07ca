from __future__ import annotations

from flask.views import MethodView

from copa.metrics import schemas, service
from copa.metrics.ranges import Filters, filters
from copa.web.access import Role, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "metrics",
    __name__,
    url_prefix="/v1/metrics",
    description="The Commissioner's measures: confidence, demand, feedback, issues, partners.",
)


def _filters(query: dict) -> Filters:
    return filters(query.pop("first"), query.pop("last"), query.pop("area", None))


@blp.route("/confidence")
class Confidence(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.ConfidenceQuery, location="query")
    @blp.response(200, schemas.ConfidenceOut)
    def get(self, query):
        """Public confidence: n, the five counts, % confident with its 95% Wilson interval and
        net confidence, per quarter, month or area, and over the whole range.

        App votes and event counters are self-selected: not comparable with the Crime Survey
        for England and Wales.
        """
        return service.public_confidence(_filters(query), **query)


@blp.route("/demand")
class Demand(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.DemandQuery, location="query")
    @blp.response(200, schemas.DemandOut)
    def get(self, query):
        """Demand reduction per quarter: submissions by kind and category, reports referred
        straight to partners, "would you otherwise have phoned 101?" answers, estimated calls
        avoided and call-handler minutes saved, the imported 101 call statistics with their
        change against the same quarter of the baseline year, and signpost click-throughs by
        topic, destination kind and signpost with their change against the baseline.

        Click-throughs count taps on signpost links in the app and visits through `/go/`: one
        resident may tap more than once. They are kept per local authority, so with a ward in
        `area` `click_throughs` is null."""
        return service.demand_reduction(_filters(query), **query)


@blp.route("/feedback")
class Feedback(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.AreaRangeQuery, location="query")
    @blp.response(200, schemas.FeedbackMetricsOut)
    def get(self, query):
        """Feedback and complaints per quarter: complaints logged, allegations by the four
        groups (force-wide: the area filter does not apply to them), escalated vs handled by
        service recovery, median time to first contact, satisfaction rate, compliments and
        suggestions."""
        return service.feedback_and_complaints(_filters(query))


@blp.route("/issues")
class Issues(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.IssuesQuery, location="query")
    @blp.response(200, schemas.IssuesOut)
    def get(self, query):
        """The most common report categories over the range, and reports per local authority
        or ward by outcome and destination."""
        return service.issues(_filters(query), **query)


@blp.route("/partners")
class Partners(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.RangeQuery, location="query")
    @blp.response(200, schemas.PartnersOut)
    def get(self, query):
        """Per partner: referrals sent in the range, how many were acknowledged and resolved,
        and the median times to do so (estimated from the duration histogram)."""
        return service.partners(_filters(query))


@blp.route("/targets")
class WithinTarget(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.RangeQuery, location="query")
    @blp.response(200, schemas.TargetsMetricsOut)
    def get(self, query):
        """The share handled within target per quarter: reports first acted on by staff or a
        partner within their category's target, complaint cases first contacted within target,
        referrals acknowledged within target; counted by the quarter each began in.

        First action on a report: the earliest status change by staff or a partner, partner
        acknowledgement of a referral, or staff message to the resident. Staff-only figures:
        counts below 5 are not suppressed here (they are in the quarterly report).
        """
        return service.within_target(_filters(query))
