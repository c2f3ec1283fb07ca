"""GET requests.{fmt}, requests/{id}.{fmt} and tokens/{token}.{fmt}: the service requests a
client may read, with GeoReport statuses (and the extended ones when asked)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.catalog.models import Category
from copa.db import db, utcnow
from copa.open311.api_clients import ApiKeyRefused
from copa.open311.models import Open311Client, Open311Request
from copa.open311.service import (
    BadRequest,
    ServiceRequestNotFound,
    service_notice,
    w3c,
)
from copa.periods import LONDON
from copa.reports.models import Report, ReportStatus

MAX_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000

OPEN = frozenset(
    {
        ReportStatus.RECEIVED,
        ReportStatus.ROUTED,
        ReportStatus.ACKNOWLEDGED,
        ReportStatus.IN_PROGRESS,
    }
)
_EXTENDED = {
    ReportStatus.RECEIVED: "OPEN",
    ReportStatus.ROUTED: "INVESTIGATING",
    ReportStatus.ACKNOWLEDGED: "ACTION_SCHEDULED",
    ReportStatus.IN_PROGRESS: "IN_PROGRESS",
    ReportStatus.RESOLVED: "FIXED",
    ReportStatus.DUPLICATE: "DUPLICATE",
    ReportStatus.REJECTED: "NO_FURTHER_ACTION",
}
# How a closed report ended, by its outcome (reports/workflow.py REPORT_OUTCOMES).
_CLOSED_AS = {
    "no_further_action": "NO_FURTHER_ACTION",
    "signposted": "NOT_COUNCILS_RESPONSIBILITY",
    "referred_to_partner": "INTERNAL_REFERRAL",
    "passed_to_force_control_room": "INTERNAL_REFERRAL",
    "passed_to_resolution_team": "INTERNAL_REFERRAL",
    "with_opcc": "INTERNAL_REFERRAL",
    "resolved_by_opcc": "FIXED",
    "resolved_by_partner": "FIXED",
    "duplicate": "DUPLICATE",
}


def status_of(report: Report, extended: bool) -> str:
    """Our lifecycle as Open311's open/closed, or as mySociety's extended statuses."""
    if not extended:
        return "open" if report.status in OPEN else "closed"
    if report.status == ReportStatus.CLOSED:
        return _CLOSED_AS.get(report.outcome or "", "CLOSED")
    return _EXTENDED[ReportStatus(report.status)]


def extended_for(client: Open311Client | None, asked: str | None) -> bool:
    wanted = (asked or "").strip().lower() == "true"
    return wanted or (client is not None and client.extended_statuses)


def find_requests(client: Open311Client | None, query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The client's own requests, newest first, at most 1000. Without a key (``client`` None),
    only requests named by ``service_request_id`` whose client shows status without a key."""
    ids = _list(query.get("service_request_id"))
    if client is None and not ids:
        raise ApiKeyRefused("api_key was not provided.")
    statement = _readable(client)
    if ids:
        if len(ids) > MAX_RESULTS:
            raise BadRequest(
                f"At most {MAX_RESULTS} service_request_id values at once.",
                errors={"service_request_id": [f"At most {MAX_RESULTS} values."]},
            )
        statement = statement.where(Report.reference.in_(ids))
    else:
        start, end = _window(query.get("start_date"), query.get("end_date"))
        statement = statement.where(
            Open311Request.created_at >= start, Open311Request.created_at <= end
        )
        codes = _list(query.get("service_code"))
        if codes:
            statement = statement.where(
                Report.category_id.in_(sa.select(Category.id).where(Category.code.in_(codes)))
            )
        statement = _with_status(statement, _list(query.get("status")))
    statement = statement.order_by(
        Open311Request.created_at.desc(), Open311Request.report_id
    ).limit(MAX_RESULTS)
    found = list(db.session.scalars(statement))
    if client is None and not found:
        raise ApiKeyRefused("api_key was not provided.")  # as for one request: no oracle
    extended = extended_for(client, query.get("extensions"))
    return [_request(row, extended, whole=client is not None) for row in found]


def _with_status(statement: sa.Select, wanted: list[str]) -> sa.Select:
    unknown = sorted(set(wanted) - {"open", "closed"})
    if unknown:
        raise BadRequest(
            "status must be open or closed (or both, comma-separated).",
            errors={"status": [f"Unknown: {', '.join(unknown)}."]},
        )
    if set(wanted) == {"open"}:
        return statement.where(Report.status.in_([str(s) for s in OPEN]))
    if set(wanted) == {"closed"}:
        return statement.where(Report.status.not_in([str(s) for s in OPEN]))
    return statement


def find_request(
    client: Open311Client | None, service_request_id: str, asked: str | None
) -> list[dict[str, Any]]:
    request = db.session.scalar(_readable(client).where(Report.reference == service_request_id))
    if request is None:
        _not_found(client, f"service_request_id {service_request_id!r} was not found.")
    return [_request(request, extended_for(client, asked), whole=client is not None)]


def find_token(client: Open311Client | None, token: str) -> list[dict[str, Any]]:
    request = db.session.scalar(_readable(client).where(Open311Request.token == token))
    if request is None:
        _not_found(client, f"token {token!r} was not found.")
    return [{"service_request_id": request.report.reference, "token": request.token}]


def _not_found(client: Open311Client | None, detail: str) -> None:
    # Without a key, "not found" would tell which references exist: the key is what is missing.
    if client is None:
        raise ApiKeyRefused("api_key was not provided.")
    raise ServiceRequestNotFound(detail)


def _readable(client: Open311Client | None) -> sa.Select:
    """The client's own requests; without a key, those of clients that show status so."""
    statement = (
        sa.select(Open311Request)
        .join(Open311Request.report)
        .options(selectinload(Open311Request.report).selectinload(Report.timeline))
    )
    if client is not None:
        return statement.where(Open311Request.client_id == client.id)
    return statement.join(Open311Request.client).where(
        Open311Client.status_without_key.is_(True), Open311Client.active.is_(True)
    )


def _request(request: Open311Request, extended: bool, whole: bool = True) -> dict[str, Any]:
    """A request as GeoReport v2 shows it; without ``whole`` only its status (no description,
    location, address or media: whoever asks without a key may not be its reporter)."""
    report = request.report
    notes = [entry.public_note for entry in report.timeline if entry.public_note]
    return {
        "service_request_id": report.reference,
        "status": status_of(report, extended),
        "status_notes": notes[-1] if notes else None,
        "service_name": report.category.name,
        "service_code": report.category.code,
        "description": report.description if whole else None,
        "agency_responsible": report.destination_name,
        "service_notice": service_notice(report),
        "requested_datetime": w3c(report.created_at),
        "updated_datetime": w3c(report.updated_at),
        "expected_datetime": None,
        "address": report.address_text if whole else None,
        "address_id": request.address_id if whole else None,
        "zipcode": None,
        "lat": report.lat if whole else None,
        "long": report.lon if whole else None,
        "media_url": request.media_url if whole else None,
    }


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _window(start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    """The date window of GET requests: at most 90 days; the last 90 days by default."""
    start = _moment(start_text, "start_date")
    end = _moment(end_text, "end_date")
    if start is None and end is None:
        end = utcnow()
    if start is None:
        start = end - MAX_WINDOW
    if end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise BadRequest(
            "end_date is before start_date.",
            errors={"end_date": ["Must not be before start_date."]},
        )
    if end - start > MAX_WINDOW:
        raise BadRequest(
            "start_date and end_date are more than 90 days apart.",
            errors={"end_date": ["At most 90 days after start_date."]},
        )
    return start, end


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    refusal = BadRequest(
        f"{name} is not a W3C datetime.",
        errors={name: ["Must be a W3C datetime, e.g. 2026-11-01T00:00:00Z."]},
    )
    if len(text) > 64:
        raise refusal
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise refusal from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)  # a local time: the force area's
    try:
        # UTC: arithmetic between two Europe/London times would ignore a clock change between.
        return moment.astimezone(UTC)
    except OverflowError:
        raise refusal from None
