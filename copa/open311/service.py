"""Open311 GeoReport v2 over the catalogue and reports: discovery and services.

The rest of GeoReport v2 lives beside it: ``api_clients`` (API keys, jurisdictions), ``submit``
(POST requests) and ``search`` (GET requests, requests/{id}, tokens/{token}).

A report made through Open311 is an ordinary report (channel ``open311``): attributed to its
ward by point, routed, flagged and counted like an app report, in one transaction with the
``Open311Request`` row that remembers its client, token and what the client sent besides.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from copa.catalog.models import Category
from copa.catalog.service import UnknownCategory, category_for_report, questions_of
from copa.db import db
from copa.emergency import EMERGENCY_ADVICE
from copa.periods import LONDON
from copa.reports.models import Report
from copa.settings import settings
from copa.web.problems import NotFound, Problem, problem_type

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


class BadRequest(Problem):
    """Open311's 400: a parameter missing or not valid (one error per entry of ``errors``)."""

    status = 400
    title = "Bad Request"
    type = problem_type("open311-bad-request")


class ServiceNotFound(NotFound):
    type = problem_type("open311-service-not-found")


class ServiceRequestNotFound(NotFound):
    type = problem_type("open311-request-not-found")


# --- discovery and services ----------------------------------------------------------------


def discovery(endpoint_url: str) -> dict[str, Any]:
    """GeoReport v2 discovery for the endpoint at ``endpoint_url`` (the view knows its URL)."""
    config = settings()
    changeset = w3c(_catalogue_changed_at())
    return {
        "changeset": changeset,
        "contact": config.open311_contact,
        "key_service": config.open311_key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": changeset,
                "type": config.open311_endpoint_type,
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def _catalogue_changed_at() -> datetime:
    changed = db.session.scalar(sa.select(sa.func.max(Category.updated_at)))
    return changed or datetime(2022, 1, 1, tzinfo=LONDON)


def services() -> list[dict[str, Any]]:
    """The service list: one service per active category, in the app's order."""
    categories = db.session.scalars(
        sa.select(Category)
        .where(Category.active.is_(True))
        .order_by(Category.sort_order, Category.code)
    )
    return [
        {
            "service_code": category.code,
            "service_name": category.name,
            "description": category.description,
            "metadata": bool(questions_of(category)),
            "type": "realtime",
            "keywords": ", ".join(category.keywords or []),
            "group": category.group,
        }
        for category in categories
    ]


def service_definition(service_code: str) -> dict[str, Any]:
    """A service's extra questions as Open311 attributes."""
    category = service_category(service_code)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": question.get("variable") is not False,
                "code": str(question["code"]),
                "datatype": question.get("datatype", "string"),
                "required": question.get("required") is True,
                "datatype_description": question.get("datatype_description"),
                "order": _order(question, position),
                "description": question.get("description") or str(question["code"]),
                "values": [
                    {"key": str(value["key"]), "name": str(value.get("name", value["key"]))}
                    for value in question.get("values") or []
                    if isinstance(value, Mapping) and "key" in value
                ],
            }
            for position, question in enumerate(questions_of(category), start=1)
        ],
    }


def _order(question: Mapping[str, Any], position: int) -> int:
    """The question's own order when it has one, else its place in the list."""
    order = question.get("order")
    if isinstance(order, int) and not isinstance(order, bool) and order > 0:
        return order
    return position


def service_category(service_code: str) -> Category:
    try:
        return category_for_report(service_code)
    except UnknownCategory:
        raise ServiceNotFound(f"service_code {service_code!r} was not found.") from None


def service_notice(report: Report) -> str:
    if report.possible_emergency:
        return EMERGENCY_ADVICE
    if report.unrouted:
        return "Received: OPCC staff will decide who acts on it."
    # Not "sent": the relay delivers it later, and may not manage to.
    return f"Being passed to {report.destination_name}."


def w3c(moment: datetime) -> str:
    return moment.astimezone(LONDON).isoformat(timespec="seconds")
