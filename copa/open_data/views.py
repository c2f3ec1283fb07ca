"""Open data: public aggregates with small counts suppressed and no personal data."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from copa.open_data import service
from copa.web.access import PUBLIC, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "open_data",
    __name__,
    url_prefix="/v1/open-data",
    description="Public aggregates: counts below 5 suppressed, no personal data, no coordinates.",
)

_CSV_RESPONSES = {
    "200": {
        "description": "The CSV file (RFC 4180, UTF-8, a header row).",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": ",".join(service.CONFIDENCE_COLUMNS)
                + "\r\n2025,1,E06000001,Hartlepool,64,10,9,12,22,11,51.6"
                + "\r\n2025,1,E06000002,Middlesbrough,212,[c],[c],38,97,70,[c]\r\n",
            }
        },
    },
    "default": "DEFAULT_ERROR",
}
_CLICK_THROUGHS_CSV = {
    "200": {
        "description": "The CSV file (RFC 4180, UTF-8, a header row).",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": ",".join(service.CLICK_THROUGH_COLUMNS)
                + "\r\n2025,2025/26 Q1,5568,2723,702,418,896,356,312,96,[c],[c]"
                + "\r\n2025,2025/26 Q2,[c],[c],[c],[c],[c],[c],[c],[c],[c],[c]\r\n",
            }
        },
    },
    "default": "DEFAULT_ERROR",
}
_HEADERS = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}


@blp.route("/confidence.csv")
class ConfidenceCsv(MethodView):
    @requires(PUBLIC)
    @blp.doc(responses=_CSV_RESPONSES)
    def get(self):
        """Public confidence per completed quarter and local authority, as CSV.

        One row per financial quarter that has ended (Europe/London) and local authority
        (Hartlepool, Middlesbrough, Redcar and Cleveland, Stockton-on-Tees), app votes and
        event tallies combined. Columns: `fiscal_year` (2025 for 2025/26), `quarter` (1 is
        April to June), `local_authority_code` (ONS GSS code), `local_authority_name`,
        `responses`, the count of each of the five options, and `percent_confident` (quite
        plus very confident, as a percentage of all responses, one decimal).

        `[c]` marks a value withheld to protect confidentiality, as the ONS marks it: every
        count below 5 (including 0); further counts where the withheld ones could otherwise be
        worked out as `responses` minus the cells shown; `percent_confident` whenever any count
        in its row is withheld; and the whole row when it has fewer than 5 responses. There are
        no ward-level rows, no locations and nothing about any resident.

        App votes are self-selected (residents choose to answer, once per area and quarter),
        so these figures are not a sample survey and are not comparable with the Crime Survey
        for England and Wales.
        """
        return Response(
            service.confidence_csv(),
            mimetype="text/csv",
            headers={
                "Content-Disposition": 'attachment; filename="copa-confidence.csv"',
                "Cache-Control": "public, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            },
        )


@blp.route("/click-throughs.csv")
class ClickThroughsCsv(MethodView):
    @requires(PUBLIC)
    @blp.doc(responses=_CLICK_THROUGHS_CSV)
    def get(self):
        """Signpost click-throughs per completed quarter and topic, as CSV.

        One row per financial quarter that has ended (Europe/London), force-wide (there are
        no rows per local authority or ward). Columns: `fiscal_year` (2025 for 2025/26),
        `quarter` (its label, e.g. `2025/26 Q1`; Q1 is April to June), `click_throughs` (all
        click-throughs of the quarter), then one count per topic: `report_crime_online`,
        `anonymous_reporting`, `victim_support`, `council_services`, `crime_prevention`,
        `careers`, `police_complaints`, `health_and_wellbeing`, `other`.

        A click-through is a tap on a link to another service in the app, or a visit through
        COPA's `/go/` links: one resident may tap more than once, so these count taps, not
        people, and say nothing about what happened on the other service's site.

        `[c]` marks a value withheld to protect confidentiality, as the ONS marks it: every
        topic count below 5 (including 0); further counts where the withheld ones could
        otherwise be worked out as `click_throughs` minus the counts shown; and every count of
        a quarter with fewer than 5 click-throughs, which shows only its year and quarter.
        """
        return Response(
            service.click_throughs_csv(),
            mimetype="text/csv",
            headers={
                "Content-Disposition": 'attachment; filename="copa-click-throughs.csv"',
                **_HEADERS,
            },
        )
