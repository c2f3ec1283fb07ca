"""Helpers of the staff review tests: residents' submissions through the API, staff users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.reports.models import Report
from copa.routing.models import Partner
from tests.factories import UserFactory, bearer, login

MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}  # Middlesbrough, ward E05001497
VICTORIA = {"lat": 54.6863, "lon": -1.2129}  # Hartlepool, ward E05008952
MIDDLEHAVEN_WARD, MIDDLESBROUGH = "E05001497", "E06000002"
VICTORIA_WARD, HARTLEPOOL = "E05008952", "E06000001"
CONTACT = {"name": "Sam", "email": "sam@example.org", "phone": "07700 900123"}


@dataclass
class Staff:
    id: str
    headers: dict[str, str]


def staff_user(app, client, *roles: str, **fields) -> Staff:
    with app.app_context():
        user = UserFactory(roles=list(roles), **fields)
        user_id, email = str(user.id), user.email
    return Staff(user_id, bearer(login(client, email)["access_token"]))


def submit(client, resident, **overrides) -> dict:
    """A resident's report through the API (anti-social behaviour in Middlehaven by default)."""
    body = {
        "category": "asb",
        "description": "Group of youths kicking the bus shelter every evening.",
        "location": MIDDLEHAVEN,
        "address_text": "Bus shelter, Middlesbrough Road",
    }
    body.update(overrides)
    response = client.post("/v1/reports", json=body, headers=resident)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def give_feedback(client, resident, **overrides) -> dict:
    body = {"kind": "compliment", "text": "The PCSO was very helpful.", **overrides}
    response = client.post("/v1/feedback", json=body, headers=resident)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def detail(client, staff: Staff, report_id: str) -> dict:
    response = client.get(f"/v1/staff/reports/{report_id}", headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def move(client, staff: Staff, report_id: str, **body):
    return client.post(
        f"/v1/staff/reports/{report_id}/transitions", json=body, headers=staff.headers
    )


def set_report(app, report_id: str, **values) -> None:
    """Arrange a report's stored state directly (the test is about what staff do next)."""
    with app.app_context():
        db.session.execute(
            sa.update(Report).where(Report.id == uuid.UUID(report_id)).values(**values)
        )
        db.session.commit()


def audit_events(app, report_id: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.target_id == uuid.UUID(report_id))
                .order_by(AuditEvent.at)
            )
        )


def partner_id(app, code: str) -> str:
    with app.app_context():
        return str(db.session.scalar(sa.select(Partner.id).where(Partner.code == code)))
