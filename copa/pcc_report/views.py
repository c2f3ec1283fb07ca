from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from copa.pcc_report import schemas, service
from copa.pcc_report.render import report_csv, report_html
from copa.web.access import Role, requires
from copa.web.blueprint import Blueprint
from copa.web.problems import PROBLEM_JSON, Problem
from copa.web.schemas import ProblemSchema

blp = Blueprint(
    "pcc_report",
    __name__,
    url_prefix="/v1",
    description="The Commissioner's quarterly performance report to the Police and Crime Panel.",
)

JSON, CSV, HTML = "application/json", "text/csv", "text/html"
_REPORT = (
    "The report: JSON by default; tidy CSV, one row per number, as an attachment with "
    "`Accept: text/csv`; a printable page with offline SVG charts with `Accept: text/html`."
)
MEDIA_TYPES = (JSON, CSV, HTML)  # JSON first: it is what */* and no Accept header get


class NotAcceptable(Problem):
    status = 406
    title = "Not Acceptable"


def negotiate() -> str:
    """The media type to answer with, from the Accept header; 406 when none is acceptable."""
    if not request.accept_mimetypes:
        return JSON
    chosen = request.accept_mimetypes.best_match(MEDIA_TYPES)
    if chosen is None:
        raise NotAcceptable(
            "The report is available as " + ", ".join(MEDIA_TYPES) + ".",
            headers={"Vary": "Accept"},
        )
    return chosen


@blp.route("/pcc-report")
class PccReport(MethodView):
    @requires(Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.PccReportQuery, location="query")
    @blp.response(200, schemas.PccReportOut, description=_REPORT)
    @blp.alt_response(200, schema={"type": "string"}, content_type=CSV, description=_REPORT)
    @blp.alt_response(200, schema={"type": "string"}, content_type=HTML, description=_REPORT)
    @blp.alt_response(
        406,
        schema=ProblemSchema,
        content_type=PROBLEM_JSON,
        description="The Accept header names none of application/json, text/csv, text/html.",
    )
    def get(self, query):
        """The quarterly report to the Police and Crime Panel: public confidence, demand
        reduction, feedback and complaints, most common issues and partner performance, with
        the baseline year's four quarters beside the current year's.

        JSON by default; `Accept: text/csv` for CSV, `Accept: text/html` for a printable page.
        A quarter that has not started yet (Europe/London) is refused with 422.
        """
        media = negotiate()  # before the work: an unacceptable request costs nothing
        report = service.pcc_report(**query)
        vary = {"Vary": "Accept"}
        if media == CSV:
            filename = service.report_filename(report, "csv")
            return Response(
                report_csv(report),
                mimetype=CSV,
                headers={**vary, "Content-Disposition": f'attachment; filename="{filename}"'},
            )
        if media == HTML:
            return Response(report_html(report), mimetype=HTML, headers=vary)
        return report, vary
