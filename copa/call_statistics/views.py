from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request, url_for
from flask.views import MethodView

from copa.call_statistics import schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.pagination import page_of
from copa.web.problems import Unprocessable

blp = Blueprint(
    "call_statistics",
    __name__,
    url_prefix="/v1/staff",
    description="The force's 101 call statistics per quarter, entered or imported by staff.",
)

_STAFF = (Role.ANALYST, Role.ADMIN)
# A multipart upload carries its boundaries and part headers besides the file itself.
_MULTIPART_ALLOWANCE = 16 * 1024
_EXAMPLE_TABLE = (
    "Measure,2024/25 Q1,2024/25 Q2,2024/25 Q3\n"
    'Non-999 calls received,"52,104",61000,58012\n'
    "% answered within 2 minutes,67.9%,71.2,84.6%\n"
    "Average wait (seconds),95,80,41\n"
    "999 calls received,,,\n"
    "% 999 answered within 10 seconds,,,\n"
)
_TABLE_BODY = {
    "required": True,
    "description": "The table as CSV (UTF-8), or a multipart form with the file as `file`.",
    "content": {
        "text/csv": {"schema": {"type": "string"}, "example": _EXAMPLE_TABLE},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
    },
}


def _table_at_most_max_bytes(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a table over the limit before anything (the idempotency check) reads it."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limit = service.MAX_TABLE_BYTES
        if request.mimetype == "multipart/form-data":
            limit += _MULTIPART_ALLOWANCE
        if request.content_length is not None and request.content_length > limit:
            raise service.TableTooLarge(
                f"The table is larger than {service.MAX_TABLE_BYTES // 1024} KB.",
                errors={"file": [f"Must be at most {service.MAX_TABLE_BYTES // 1024} KB."]},
            )
        request.max_content_length = limit  # a chunked body stops being read at the limit
        return view(*args, **kwargs)

    return wrapper


def _import_doc() -> str:
    """The import route's description, its measure labels listed from ``service.FIGURES``."""
    measures = "\n".join(
        f"- `{figure.label}` ({'required' if figure.required else 'optional'}; also "
        + ", ".join(f"`{alias[0].upper()}{alias[1:]}`" for alias in figure.aliases)
        + ")"
        for figure in service.FIGURES
    )
    limit = service.MAX_TABLE_BYTES // 1024
    return f"""Import quarters' figures from a CSV table in the seed performance report's shape.

Send `text/csv` (or `multipart/form-data` with the file as `file`), UTF-8 (a byte-order mark
is fine), at most {limit} KB. The first row heads the columns: the first column names the
measures (any heading), each further column is a quarter headed `2024/25 Q1` (also
`Q1 2024/25` or `2024/2025 Q1`). Each further row is one measure, its label matched
case-insensitively:

{measures}

Cells may use thousands separators (`52,104`), percentages a `%` sign, and surrounding
spaces; counts and seconds must be whole numbers; optional cells may be blank. Each quarter
is then set as by `POST /v1/staff/call-stats`: created, or its earlier figures replaced
(blank optional figures cleared), one audit event per quarter. All or nothing: a 422 names
every bad cell as `"<quarter heading> / <measure>"` (a bad heading or measure by its text)
and nothing is imported; a table over {limit} KB is a 413.
"""


def _uploaded_table() -> bytes:
    """The bytes of the table, sent as the body or as the multipart field ``file``."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Unprocessable(
                "Send the table as the field `file`.", errors={"file": ["Missing."]}
            )
        return upload.read(service.MAX_TABLE_BYTES + 1)
    if request.mimetype in service.TABLE_MEDIA_TYPES:
        return request.get_data(cache=True)
    raise service.NotATable(
        "Send the table as text/csv, or as multipart/form-data with the file as `file`."
    )


@blp.route("/call-stats")
class CallStatisticsList(MethodView):
    @requires(*_STAFF)
    @idempotent
    @blp.arguments(schemas.CallStatisticsIn)
    @blp.response(201, schemas.CallStatisticsOut)
    @blp.alt_response(
        200, schema=schemas.CallStatisticsOut, description="The quarter's figures were replaced."
    )
    def post(self, payload):
        """Set a quarter's 101 (and optionally 999) call figures, as the force publishes them.

        201 when the quarter had no figures; 200 when this replaces earlier ones (a
        correction), in which case optional figures left out are cleared. A quarter that has not
        started yet (Europe/London) is refused. Send an Idempotency-Key to retry safely.
        """
        row, created = service.set_call_statistics(current_principal(), **payload)
        if not created:
            return row, 200
        return (
            row,
            201,
            {"Location": url_for("call_statistics.CallStatisticsItem", call_statistics_id=row.id)},
        )

    @requires(*_STAFF)
    @blp.arguments(schemas.CallStatisticsQuery, location="query")
    @blp.response(200, page_of(schemas.CallStatisticsOut))
    def get(self, query):
        """The quarters' figures in quarter order (oldest first), optionally for one year."""
        return service.list_call_statistics(**query)


@blp.route("/call-stats/<uuid:call_statistics_id>")
class CallStatisticsItem(MethodView):
    @requires(*_STAFF)
    @blp.response(200, schemas.CallStatisticsOut)
    def get(self, call_statistics_id):
        """One quarter's figures."""
        return service.get_call_statistics(call_statistics_id)


@blp.route("/call-stats/import")
class CallStatisticsImport(MethodView):
    @requires(*_STAFF)
    @_table_at_most_max_bytes
    @idempotent
    @blp.doc(requestBody=_TABLE_BODY)
    @blp.response(200, schemas.CallStatisticsImportOut)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self):
        return service.import_call_statistics(current_principal(), _uploaded_table())

    post.__doc__ = _import_doc()
