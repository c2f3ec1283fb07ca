from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from copa.reports import schemas
from copa.submissions import service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.ratelimit import limit_per_caller

# The resident's reads of their reports are the "reports" blueprint's, at the same URL; this
# operation is documented with them, under the same tag.
blp = Blueprint(
    "submissions",
    __name__,
    url_prefix="/v1/reports",
    description="A resident's report being submitted (documented under reports).",
)


@blp.route("", tags=["reports"])
class ReportSubmissions(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_REPORTS")
    @blp.arguments(schemas.ReportIn)
    @blp.response(201, schemas.ReportOut)
    def post(self, payload):
        """Report a non-emergency issue. Safe to retry with an Idempotency-Key.

        The report is attributed to its ward and local authority (a point outside the
        Cleveland force area is refused) and the response says where it is going. When it may
        be an emergency, the report is still stored and `emergency_advice` says to call 999.
        """
        report = service.submit_report(current_principal(), payload)
        return report, 201, {"Location": url_for("reports.Report", report_id=report.id)}
