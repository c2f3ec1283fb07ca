"""Helpers of the signpost tests: places, the seed signposts, admins' requests, counts."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from copa.db import db
from copa.metrics.models import ClickThroughRollup
from copa.signposts.models import Signpost, SignpostClick

PROBLEM_JSON = "application/problem+json"
LIST = "/v1/signposts"
ADMIN = "/v1/admin/signposts"

HARTLEPOOL, MIDDLESBROUGH, REDCAR, STOCKTON = "E06000001", "E06000002", "E06000003", "E06000004"
VICTORIA = {"lat": 54.6863, "lon": -1.2129}  # Hartlepool, ward E05008952
VICTORIA_WARD = "E05008952"
MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}  # Middlesbrough, ward E05001497
MIDDLEHAVEN_WARD = "E05001497"
LONDON = {"lat": 51.5074, "lon": -0.1278}

HARTLEPOOL_PAGE = "hartlepool-council-report-it"
STOCKTON_PAGE = "stockton-council-report-it"
COUNCIL_PAGES = {
    HARTLEPOOL: HARTLEPOOL_PAGE,
    MIDDLESBROUGH: "middlesbrough-council-report-it",
    REDCAR: "redcar-cleveland-council-report-it",
    STOCKTON: STOCKTON_PAGE,
}


def new_signpost(**overrides: Any) -> dict[str, Any]:
    """The body of a POST /v1/admin/signposts: a valid signpost offered everywhere."""
    body = {
        "code": f"test-{uuid.uuid4().hex[:12]}",
        "title": "Neighbourhood watch",
        "description": "Join a scheme near you.",
        "organisation": "Neighbourhood Watch Network",
        "url": "https://www.ourwatch.org.uk/",
        "topic": "crime_prevention",
        "destination_kind": "charity",
    }
    body.update(overrides)
    return body


def create(client, admin: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post(ADMIN, json=new_signpost(**overrides), headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def codes(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [signpost["code"] for signpost in response.get_json()]


def listed(client, **query: Any) -> list[str]:
    """The codes GET /v1/signposts lists for ``query``, in order."""
    return codes(client.get(LIST, query_string=query))


def signpost_id(app, code: str) -> str:
    with app.app_context():
        return str(db.session.scalar(sa.select(Signpost.id).where(Signpost.code == code)))


def click(
    client,
    signpost: str,
    event_id: uuid.UUID | str | None = None,
    headers: dict[str, str] | None = None,
    **body: Any,
):
    """POST a tap on a signpost (by id); a fresh event id unless one is given."""
    payload = {"event_id": str(event_id or uuid.uuid4()), **body}
    return client.post(f"{LIST}/{signpost}/clicks", json=payload, headers=headers or {})


def clicks_of(app, signpost: str) -> list[SignpostClick]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(SignpostClick).where(SignpostClick.signpost_id == uuid.UUID(signpost))
            )
        )


def rollup_total(app, signpost: str, **where: Any) -> int:
    """The click-throughs the rollup holds for a signpost (optionally of one topic, source...)."""
    with app.app_context():
        statement = sa.select(sa.func.coalesce(sa.func.sum(ClickThroughRollup.count), 0)).where(
            ClickThroughRollup.signpost_id == uuid.UUID(signpost)
        )
        for name, value in where.items():
            statement = statement.where(getattr(ClickThroughRollup, name) == value)
        return int(db.session.scalar(statement))
