"""Console pages of deliveries, counter tallies, 101 call statistics and the quarterly report.

Each page calls the same service function, through the same input schema, as the API route it
mirrors (named beside each view), and shows what the API's output schema would return.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Response, flash, g, redirect, request, url_for
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.call_statistics import schemas as call_schemas
from copa.call_statistics import service as calls
from copa.confidence import schemas as confidence_schemas
from copa.confidence import service as confidence
from copa.confidence import tallies as confidence_tallies
from copa.console.pages import blp, console_page, load_form, page
from copa.outbox import service as outbox
from copa.outbox.models import MessageState
from copa.outbox.views import DeliveryOut, DeliveryQuery
from copa.pcc_report import schemas as pcc_schemas
from copa.pcc_report import service as pcc_report_service
from copa.pcc_report.render import report_csv, report_html
from copa.periods import Quarter, today_london
from copa.web.access import Role
from copa.web.problems import Problem, flatten_messages

DELIVERIES = (Role.REVIEWER, Role.ADMIN)  # as /v1/staff/deliveries
TALLIES = (Role.REVIEWER, Role.ANALYST, Role.ADMIN)  # as /v1/staff/confidence/tallies
CALL_STATISTICS = (Role.ANALYST, Role.ADMIN)  # as /v1/staff/call-stats
PCC_REPORT = (Role.ANALYST, Role.ADMIN)  # as /v1/pcc-report

_WHOLE_NUMBER = re.compile(r"^\s*[+-]?\d{1,18}\s*$")


def _numbers(data: Mapping[str, Any], names: tuple[str, ...] | set[str]) -> dict[str, Any]:
    """Form text of strict integer fields as ints (the API's JSON sends numbers); anything
    else is left as typed, for the schema to refuse with its own message."""
    out = dict(data)
    for name in names:
        value = out.get(name)
        if isinstance(value, str) and _WHOLE_NUMBER.match(value):
            out[name] = int(value)
    return out


def _query(args: MultiDict) -> dict[str, str]:
    """A GET form's fields, empty ones counting as not given."""
    return {key: value for key, value in args.items() if value != ""}


def _next_page(args: Mapping[str, str], result: Any, endpoint: str) -> str | None:
    if result is None or result.total <= result.page * result.page_size:
        return None
    return url_for(endpoint, **{**args, "page": result.page + 1})


# --- dead-letter deliveries (GET /v1/staff/deliveries, POST .../{id}/retry) -------------------

_STATES = (
    (MessageState.DEAD, "Dead letters (out of attempts)"),
    (MessageState.PENDING, "Pending"),
    (MessageState.CANCELLED, "Cancelled"),
    (MessageState.DELIVERED, "Delivered"),
)
_RETRYABLE = {MessageState.DEAD, MessageState.CANCELLED, MessageState.PENDING}


def _deliveries_page(status: int = 200, **context: Any) -> tuple[str, int]:
    # No state in the address: the dead letters, which are what staff come here for.
    # An empty state (the "Any state" option) lists every delivery.
    args = _query(request.args)
    if "state" not in request.args:
        args["state"] = MessageState.DEAD
    errors: dict[str, list[str]] = {}
    result = None
    try:
        query = DeliveryQuery().load(args)
        result = outbox.list_deliveries(query.get("state"), query["page"], query["page_size"])
    except ValidationError as error:
        errors, status = flatten_messages(error.messages), 400
    return page(
        "console/deliveries.html",
        status,
        deliveries=DeliveryOut(many=True).dump(result.items) if result else [],
        result=result,
        state=args.get("state", ""),
        states=_STATES,
        retryable=_RETRYABLE,
        errors=errors,
        next_page=_next_page(args, result, "console.deliveries"),
        **context,
    )


@blp.route("/deliveries")
@console_page(*DELIVERIES)
def deliveries():
    return _deliveries_page()


@blp.route("/deliveries/<uuid:message_id>/retry", methods=["POST"])
@console_page(*DELIVERIES)
def delivery_retry(message_id: uuid.UUID):
    back = request.form.get("state", MessageState.DEAD)
    if back not in {"", *MessageState}:
        back = MessageState.DEAD
    try:
        message = outbox.retry_delivery(g.principal, message_id)
    except Problem as problem:
        if problem.status == 404:
            raise
        return _deliveries_page(problem.status, retry_error=problem.detail or problem.title)
    flash(f"The {message.event_type} delivery to {message.partner.name} will be sent again.")
    return redirect(url_for("console.deliveries", state=back), 303)


# --- confidence counter tallies (GET/POST /v1/staff/confidence/tallies) ----------------------


def _tally_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields in the shape of ``TallyIn``: counts nested under ``counts``."""
    data: dict[str, Any] = {
        key: value
        for key, value in form.items()
        if value != "" and key != "csrf_token" and not key.startswith("counts.")
    }
    counts = {
        key.removeprefix("counts."): value
        for key, value in form.items()
        if key.startswith("counts.") and value != ""
    }
    data["counts"] = _numbers(counts, set(counts))
    return data


def _tallies_page(status: int = 200, **context: Any) -> tuple[str, int]:
    args = _query(request.args)
    filter_errors: dict[str, list[str]] = {}
    result = None
    try:
        query = confidence_schemas.TallyQuery().load(args)
        page_number, page_size = query.pop("page"), query.pop("page_size")
        result = confidence_tallies.list_tallies(page_number, page_size, **query)
    except ValidationError as error:
        filter_errors, status = flatten_messages(error.messages), max(status, 400)
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return page(
        "console/tallies.html",
        status,
        question=confidence.get_question(),
        tallies=confidence_schemas.TallyOut(many=True).dump(result.items) if result else [],
        result=result,
        args=args,
        filter_errors=filter_errors,
        today=today_london().isoformat(),
        next_page=_next_page(args, result, "console.tallies"),
        **context,
    )


@blp.route("/tallies")
@console_page(*TALLIES)
def tallies():
    return _tallies_page()


@blp.route("/tallies", methods=["POST"])
@console_page(*TALLIES)
def tally_create():
    form = request.form.to_dict()
    try:
        payload = load_form(confidence_schemas.TallyIn(), _tally_form(form))
        tally = confidence_tallies.record_tally(g.principal, **payload)
    except ValidationError as error:
        return _tallies_page(422, form=form, errors=flatten_messages(error.messages))
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = problem.errors or {"_body": [problem.detail or problem.title]}
        return _tallies_page(422, form=form, errors=errors)
    flash(
        f"Saved: {tally.total} counter{'' if tally.total == 1 else 's'} from "
        f"{tally.event_name} ({tally.quarter.label})."
    )
    return redirect(url_for("console.tallies"), 303)


# --- 101 call statistics (GET/POST /v1/staff/call-stats, POST .../import) --------------------

_STRICT_CALL_FIELDS = ("fiscal_year", "quarter") + tuple(
    figure.field for figure in calls.FIGURES if figure.whole
)


def _call_statistics_page(status: int = 200, **context: Any) -> tuple[str, int]:
    args = _query(request.args)
    filter_errors: dict[str, list[str]] = {}
    result = None
    try:
        query = call_schemas.CallStatisticsQuery().load(args)
        result = calls.list_call_statistics(**query)
    except ValidationError as error:
        filter_errors, status = flatten_messages(error.messages), max(status, 400)
    context.setdefault("form", {})
    context.setdefault("errors", {})
    context.setdefault("import_errors", {})
    return page(
        "console/call_statistics.html",
        status,
        figures=calls.FIGURES,
        rows=call_schemas.CallStatisticsOut(many=True).dump(result.items) if result else [],
        result=result,
        args=args,
        filter_errors=filter_errors,
        current=Quarter.of(today_london()),
        max_kb=calls.MAX_TABLE_BYTES // 1024,
        next_page=_next_page(args, result, "console.call_statistics"),
        **context,
    )


@blp.route("/call-statistics")
@console_page(*CALL_STATISTICS)
def call_statistics():
    return _call_statistics_page()


@blp.route("/call-statistics", methods=["POST"])
@console_page(*CALL_STATISTICS)
def call_statistics_set():
    form = request.form.to_dict()
    try:
        payload = load_form(call_schemas.CallStatisticsIn(), _numbers(form, _STRICT_CALL_FIELDS))
        row, created = calls.set_call_statistics(g.principal, **payload)
    except ValidationError as error:
        return _call_statistics_page(422, form=form, errors=flatten_messages(error.messages))
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = problem.errors or {"_body": [problem.detail or problem.title]}
        return _call_statistics_page(422, form=form, errors=errors)
    label = Quarter(row.fiscal_year, row.fiscal_quarter).label
    flash(f"Saved the figures of {label}." if created else f"Replaced the figures of {label}.")
    return redirect(url_for("console.call_statistics"), 303)


@blp.route("/call-statistics/import", methods=["POST"])
@console_page(*CALL_STATISTICS)
def call_statistics_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _call_statistics_page(422, import_errors={"file": ["Choose a CSV file."]})
    try:
        result = calls.import_call_statistics(g.principal, upload.read(calls.MAX_TABLE_BYTES + 1))
    except Problem as problem:
        if problem.status not in (413, 422):
            raise
        errors = problem.errors or {"file": [problem.detail or problem.title]}
        return _call_statistics_page(
            problem.status, import_errors=errors, import_detail=problem.detail
        )
    labels = ", ".join(Quarter(r.fiscal_year, r.fiscal_quarter).label for r in result.quarters)
    flash(f"Imported {labels}: {result.created} new, {result.replaced} replaced.")
    return redirect(url_for("console.call_statistics"), 303)


# --- the quarterly report (GET /v1/pcc-report) ------------------------------------------------

_MAIN = re.compile(r"<main>(.*)</main>", re.DOTALL)
_HEADING = re.compile(r"<(/?)h([1-5])\b")


def report_body(html: str) -> Markup:
    """The content of the report page (``report_html``) for embedding under the console's own
    heading: its ``<main>`` without the page's ``<style>``, headings one level down."""
    match = _MAIN.search(html)
    body = match.group(1) if match else html
    body = _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", body)
    return Markup(body)  # noqa: S704 - the report's own autoescaped template rendered it


def _report_args() -> dict[str, str]:
    return {
        k: v for k, v in _query(request.args).items() if k in pcc_schemas.PccReportQuery().fields
    }


def _load_report_query() -> dict[str, Any]:
    return pcc_schemas.PccReportQuery().load(_query(request.args))


def _last_finished_quarter() -> Quarter:
    current = Quarter.of(today_london())
    if current.quarter == 1:
        return Quarter(current.fiscal_year - 1, 4)
    return Quarter(current.fiscal_year, current.quarter - 1)


@blp.route("/pcc-report")
@console_page(*PCC_REPORT)
def pcc_report():
    if not request.args:
        suggested = _last_finished_quarter()
        form = {"year": suggested.fiscal_year, "quarter": suggested.quarter}
        return page("console/pcc_report.html", form=form, errors={}, report=None)
    form = _query(request.args)
    try:
        query = _load_report_query()
        report = pcc_report_service.pcc_report(**query)
    except ValidationError as error:
        return page(
            "console/pcc_report.html",
            400,
            form=form,
            errors=flatten_messages(error.messages),
            report=None,
        )
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = problem.errors or {"_body": [problem.detail or problem.title]}
        return page("console/pcc_report.html", 422, form=form, errors=errors, report=None)
    return page(
        "console/pcc_report.html",
        form=form,
        errors={},
        report=report,
        body=report_body(report_html(report)),
        csv_url=url_for("console.pcc_report_csv", **_report_args()),
    )


@blp.route("/pcc-report.csv")
@console_page(*PCC_REPORT)
def pcc_report_csv():
    try:
        query = _load_report_query()
    except ValidationError as error:
        details = "; ".join(
            f"{name}: {' '.join(messages)}"
            for name, messages in flatten_messages(error.messages).items()
        )
        return page("console/error.html", 400, message=f"The report was not made: {details}")
    report = pcc_report_service.pcc_report(**query)  # a 422 is shown by the error page
    filename = pcc_report_service.report_filename(report, "csv")
    return Response(
        report_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
