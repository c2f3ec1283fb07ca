"""The audit log: admin and staff actions each leave one event; admins read and filter it; the
database refuses to change or delete an event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.outbox import ssrf
from copa.outbox.models import MessageState, OutboxMessage
from copa.routing.models import Channel
from tests.factories import (
    PartnerFactory,
    UserFactory,
    bearer,
    load_reference_data,
    login,
    signed_in,
    table_counts,
)

AUDIT = "/v1/admin/audit"
HOOKS_URL = "https://hooks.thirteen.example/copa"
GIVEN_SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes
API_KEY = "stockton-api-key-do-not-log-0123"
MIDDLEHAVEN = "E05001497"


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    """Partner endpoints resolve to a public address without asking any name server."""
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["93.184.215.14"])


@pytest.fixture
def reference(app):
    load_reference_data(app)


def user_headers(app, client, *roles: str) -> tuple[str, dict[str, str]]:
    """A new signed-in user of those roles: (user id, bearer headers)."""
    with app.app_context():
        user = UserFactory(roles=list(roles))
        user_id, email = str(user.id), user.email
    return user_id, bearer(login(client, email)["access_token"])


@pytest.fixture
def admin(app, client, reference) -> tuple[str, dict[str, str]]:
    return user_headers(app, client, "admin")


def events(app, **where) -> list[AuditEvent]:
    """Stored events matching column == value, oldest first."""
    with app.app_context():
        statement = sa.select(AuditEvent).order_by(AuditEvent.at)
        for name, value in where.items():
            statement = statement.where(getattr(AuditEvent, name) == value)
        return list(db.session.scalars(statement))


def one_new_event(app, before: int, **where) -> AuditEvent:
    """The action wrote exactly one event (of any kind), and it matches ``where``."""
    assert table_counts(app, AuditEvent)["audit_event"] == before + 1
    (event,) = events(app, **where)
    return event


def audit_count(app) -> int:
    return table_counts(app, AuditEvent)["audit_event"]


# --- the log as admins read it --------------------------------------------------------------


def _fixed(name: str) -> uuid.UUID:
    """The same id on every run and every xdist worker: the ids name parametrized tests."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://copa.example/tests/audit-log/{name}")


STAFF_A, STAFF_B, PARTNER_USER = _fixed("staff-a"), _fixed("staff-b"), _fixed("partner-user")
REPORT, PARTNER, RULE = _fixed("report"), _fixed("partner"), _fixed("rule")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (name, when in UTC, actor kind, actor id, roles, action, target kind, target id)
SEEDED = [
    (
        "jan",
        "2025-01-15T12:00",
        "staff",
        STAFF_A,
        "reviewer",
        "report.transition",
        "report",
        REPORT,
    ),
    (
        "late_june",
        "2025-06-30T22:30",
        "staff",
        STAFF_B,
        "admin",
        "partner.create",
        "partner",
        PARTNER,
    ),
    # 00:30 on 1 July in London (BST): a July event, though still 30 June in UTC.
    (
        "july_bst",
        "2025-06-30T23:30",
        "staff",
        STAFF_B,
        "admin",
        "partner.update",
        "partner",
        PARTNER,
    ),
    (
        "ack",
        "2025-08-01T09:00",
        "partner",
        PARTNER_USER,
        "partner",
        "referral.acknowledge",
        "referral",
        uuid.uuid4(),
    ),
    (
        "rule",
        "2025-12-31T23:30",
        "staff",
        STAFF_B,
        "admin",
        "routing_rule.create",
        "routing_rule",
        RULE,
    ),
    # "_" is a LIKE wildcard: the prefix routing_rule. must not match this.
    (
        "decoy",
        "2026-01-01T10:00",
        "staff",
        STAFF_A,
        "admin",
        "routingXrule.create",
        "routing_rule",
        RULE,
    ),
]


@pytest.fixture
def seeded(app, admin) -> dict[str, str]:
    """Six events at known times; ids by name. (Inserting is all the log allows.)"""
    ids = {}
    with app.app_context():
        for name, at, kind, actor, roles, action, target_kind, target_id in SEEDED:
            event = AuditEvent(
                id=uuid.uuid4(),
                at=_at(at),
                actor_kind=kind,
                actor_id=actor,
                actor_roles=roles,
                action=action,
                target_kind=target_kind,
                target_id=target_id,
                before={"status": "received"} if name == "jan" else None,
                after={"status": "routed"} if name == "jan" else {"name": name},
            )
            db.session.add(event)
            ids[name] = str(event.id)
        db.session.commit()
    return ids


def listed(client, admin, query: str = "") -> list[str]:
    """Ids of the events the admin's query returns (one big page)."""
    response = client.get(f"{AUDIT}?page_size=100&{query}", headers=admin[1])
    assert response.status_code == 200, response.get_json()
    return [event["id"] for event in response.get_json()["items"]]


def names(seeded, ids: list[str]) -> list[str]:
    by_id = {v: k for k, v in seeded.items()}
    return [by_id[i] for i in ids if i in by_id]


def test_the_log_is_newest_first_with_who_what_and_before_after(client, admin, seeded):
    response = client.get(f"{AUDIT}?page_size=100", headers=admin[1])

    body = response.get_json()
    assert names(seeded, [e["id"] for e in body["items"]]) == [
        "decoy",
        "rule",
        "ack",
        "july_bst",
        "late_june",
        "jan",
    ]
    jan = next(e for e in body["items"] if e["id"] == seeded["jan"])
    assert jan == {
        "id": seeded["jan"],
        "at": "2025-01-15T12:00:00+00:00",
        "actor_kind": "staff",
        "actor_id": str(STAFF_A),
        "actor_roles": ["reviewer"],
        "action": "report.transition",
        "target_kind": "report",
        "target_id": str(REPORT),
        "before": {"status": "received"},
        "after": {"status": "routed"},
    }


def test_the_log_is_paginated(client, admin, seeded):
    first = client.get(f"{AUDIT}?page=1&page_size=4&actor_id={STAFF_B}", headers=admin[1])
    second = client.get(f"{AUDIT}?page=2&page_size=2&actor_id={STAFF_B}", headers=admin[1])
    assert first.get_json()["total"] == 3 and len(first.get_json()["items"]) == 3
    assert names(seeded, [e["id"] for e in second.get_json()["items"]]) == ["late_june"]


@pytest.mark.parametrize(
    "query,expected",
    [
        (f"actor_id={STAFF_A}", ["decoy", "jan"]),
        (f"actor_id={PARTNER_USER}", ["ack"]),
        ("actor_kind=partner", ["ack"]),
        ("actor_kind=staff", ["decoy", "rule", "july_bst", "late_june", "jan"]),
        ("action=partner.create", ["late_june"]),
        ("action=partner", []),  # no dot: an exact action, and there is none called that
        ("action=partner.", ["july_bst", "late_june"]),
        ("action=routing_rule.", ["rule"]),  # the decoy's X does not match the _
        ("action=%25.", []),  # % is not a wildcard either
        ("target_kind=routing_rule", ["decoy", "rule"]),
        (f"target_id={PARTNER}", ["july_bst", "late_june"]),
        (f"target_kind=partner&target_id={PARTNER}&actor_id={STAFF_B}", ["july_bst", "late_june"]),
        (f"target_kind=report&target_id={PARTNER}", []),
        (f"actor_kind=staff&action=partner.&actor_id={STAFF_A}", []),
    ],
)
def test_the_log_is_filtered_by_actor_action_and_target(client, admin, seeded, query, expected):
    assert names(seeded, listed(client, admin, query)) == expected


@pytest.mark.parametrize(
    "query,expected",
    [
        # London dates, both inclusive: 23:30 UTC on 30 June is 1 July in London (BST).
        ("from=2025-07-01", ["decoy", "rule", "ack", "july_bst"]),
        ("to=2025-06-30", ["late_june", "jan"]),
        ("from=2025-06-30&to=2025-06-30", ["late_june"]),
        ("from=2025-07-01&to=2025-07-01", ["july_bst"]),
        # In winter London is UTC: 23:30 on 31 December is still 31 December.
        ("from=2025-12-31&to=2025-12-31", ["rule"]),
        ("to=2025-12-31", ["rule", "ack", "july_bst", "late_june", "jan"]),
        ("from=2026-01-01", ["decoy"]),
        ("from=2024-01-01&to=2024-12-31", []),
    ],
)
def test_the_log_is_filtered_by_london_dates(client, admin, seeded, query, expected):
    assert names(seeded, listed(client, admin, query)) == expected


@pytest.mark.parametrize(
    "query,field",
    [
        ("actor_kind=resident", "actor_kind"),
        ("actor_id=42", "actor_id"),
        ("target_id=nope", "target_id"),
        ("from=2025-07-02&to=2025-07-01", "to"),
        ("from=yesterday", "from"),
        ("action=" + "x" * 65, "action"),
        ("page_size=101", "page_size"),
        ("actor=me", "actor"),
    ],
)
def test_a_bad_audit_query_is_422_naming_the_parameter(client, admin, query, field):
    response = client.get(f"{AUDIT}?{query}", headers=admin[1])
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["reviewer", "resolution", "analyst", "partner", "resident"])
def test_only_admins_read_the_log(app, client, role):
    headers = bearer(signed_in(app, client, role)["access_token"])
    response = client.get(AUDIT, headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_the_log_needs_a_token(client):
    assert client.get(AUDIT).status_code == 401


# --- append-only ---------------------------------------------------------------------------


def _change(event_id: uuid.UUID) -> None:
    db.session.execute(
        sa.update(AuditEvent).where(AuditEvent.id == event_id).values(action="nothing.happened")
    )


def _delete(event_id: uuid.UUID) -> None:
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == event_id))


def _change_through_the_orm(event_id: uuid.UUID) -> None:
    db.session.get(AuditEvent, event_id).after = {"status": "closed"}
    db.session.flush()


def _delete_through_the_orm(event_id: uuid.UUID) -> None:
    db.session.delete(db.session.get(AuditEvent, event_id))
    db.session.flush()


def _delete_everything(event_id: uuid.UUID) -> None:
    db.session.execute(sa.delete(AuditEvent))


@pytest.mark.parametrize(
    "tamper",
    [_change, _delete, _change_through_the_orm, _delete_through_the_orm, _delete_everything],
)
def test_the_database_refuses_to_change_or_delete_an_event(app, client, admin, seeded, tamper):
    event_id = uuid.UUID(seeded["jan"])
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            tamper(event_id)
        db.session.rollback()

        stored = db.session.get(AuditEvent, event_id)
        assert (stored.action, stored.after) == ("report.transition", {"status": "routed"})
    assert len(listed(client, admin)) == len(SEEDED)


# --- the actions that write it -----------------------------------------------------------------


def _no_secret_in(event: AuditEvent, *secrets: str) -> None:
    logged = json.dumps([event.before, event.after])
    for secret in secrets:
        assert secret not in logged
    assert "whsec_" not in logged


def test_creating_a_partner_is_audited_with_its_settings_but_no_secret(app, client, admin):
    admin_id, headers = admin
    before = audit_count(app)

    response = client.post(
        "/v1/admin/partners",
        json={
            "code": "thirteen-audit",
            "name": "Thirteen Housing (audit)",
            "kind": "housing_provider",
            "channel": "webhook",
            "endpoint_url": HOOKS_URL,
            "webhook_secret": GIVEN_SECRET,
        },
        headers=headers,
    )

    assert response.status_code == 201, response.get_json()
    partner_id = uuid.UUID(response.get_json()["id"])
    event = one_new_event(app, before, target_id=partner_id)
    assert (event.action, event.target_kind) == ("partner.create", "partner")
    assert (event.actor_kind, str(event.actor_id), event.actor_roles) == (
        "staff",
        admin_id,
        "admin",
    )
    assert event.before is None
    assert event.after["code"] == "thirteen-audit" and event.after["channel"] == "webhook"
    assert event.after["endpoint_url"] == HOOKS_URL and event.after["active"] is True
    assert event.after["webhook_secrets"] == 1
    _no_secret_in(event, GIVEN_SECRET)


def test_a_partner_with_a_generated_secret_or_an_api_key_leaves_neither_in_the_log(
    app, client, admin
):
    generated = client.post(
        "/v1/admin/partners",
        json={
            "code": "hooks-generated",
            "name": "Generated secret",
            "kind": "council",
            "channel": "webhook",
            "endpoint_url": HOOKS_URL,
        },
        headers=admin[1],
    ).get_json()
    open311 = client.post(
        "/v1/admin/partners",
        json={
            "code": "stockton-audit",
            "name": "Stockton (audit)",
            "kind": "council",
            "channel": "open311",
            "endpoint_url": "https://open311.stockton.example/v2/",
            "open311_api_key": API_KEY,
        },
        headers=admin[1],
    ).get_json()

    (hooks_event,) = events(app, target_id=uuid.UUID(generated["id"]))
    (open311_event,) = events(app, target_id=uuid.UUID(open311["id"]))
    _no_secret_in(hooks_event, generated["webhook_secret"])
    assert hooks_event.after["webhook_secrets"] == 1
    _no_secret_in(open311_event, API_KEY)
    assert open311_event.after["open311_api_key_set"] is True


def test_changing_a_partner_records_only_what_changed_and_never_a_secret(app, client, admin):
    created = client.post(
        "/v1/admin/partners",
        json={
            "code": "rotating",
            "name": "Rotating secrets",
            "kind": "council",
            "channel": "webhook",
            "endpoint_url": HOOKS_URL,
        },
        headers=admin[1],
    ).get_json()
    url = f"/v1/admin/partners/{created['id']}"

    before = audit_count(app)
    rotated = client.patch(
        url, json={"name": "Rotated", "rotate_webhook_secret": True}, headers=admin[1]
    )
    assert rotated.status_code == 200, rotated.get_json()
    assert audit_count(app) == before + 1
    retired = client.patch(url, json={"retire_old_webhook_secrets": True}, headers=admin[1])
    moved = client.patch(
        url,
        json={"channel": "open311", "endpoint_url": HOOKS_URL, "open311_api_key": API_KEY},
        headers=admin[1],
    )
    assert retired.status_code == 200 and moved.status_code == 200, moved.get_json()

    _, rotation, retirement, move = events(app, target_id=uuid.UUID(created["id"]))
    assert rotation.action == "partner.update"
    assert rotation.before == {"name": "Rotating secrets", "webhook_secrets": 1}
    assert rotation.after == {"name": "Rotated", "webhook_secrets": 2, "rotated": True}
    _no_secret_in(rotation, created["webhook_secret"], rotated.get_json()["webhook_secret"])
    assert retirement.before == {"webhook_secrets": 2} and retirement.after == {
        "webhook_secrets": 1
    }
    assert move.before["channel"] == "webhook" and move.after["channel"] == "open311"
    assert move.before["webhook_secrets"] == 1 and move.after["webhook_secrets"] == 0
    assert move.before["open311_api_key_set"] is False
    assert move.after["open311_api_key_set"] is True
    _no_secret_in(move, API_KEY)


def test_deactivating_a_partner_is_audited(app, client, admin):
    with app.app_context():
        partner_id = PartnerFactory().id
    before = audit_count(app)

    response = client.delete(f"/v1/admin/partners/{partner_id}", headers=admin[1])

    assert response.status_code == 204
    event = one_new_event(app, before, target_id=partner_id)
    assert event.action == "partner.deactivate"
    assert (event.before, event.after) == ({"active": True}, {"active": False})


def test_a_refused_partner_change_leaves_no_event(app, client, admin):
    with app.app_context():
        partner_id = PartnerFactory().id
    before = audit_count(app)

    response = client.patch(
        f"/v1/admin/partners/{partner_id}", json={"channel": "webhook"}, headers=admin[1]
    )

    assert response.status_code == 422
    assert audit_count(app) == before


def test_routing_rules_are_audited_when_created_changed_and_deactivated(app, client, admin):
    with app.app_context():
        first, second = PartnerFactory().id, PartnerFactory().id
    before = audit_count(app)

    created = client.post(
        "/v1/admin/routing-rules",
        json={
            "category_code": "graffiti",
            "area_level": "ward",
            "area_code": MIDDLEHAVEN,
            "partner_id": str(first),
        },
        headers=admin[1],
    )
    assert created.status_code == 201, created.get_json()
    rule_id = uuid.UUID(created.get_json()["id"])
    url = f"/v1/admin/routing-rules/{rule_id}"
    assert audit_count(app) == before + 1
    changed = client.patch(
        url, json={"area_level": "any", "partner_id": str(second)}, headers=admin[1]
    )
    assert changed.status_code == 200
    assert audit_count(app) == before + 2
    assert client.delete(url, headers=admin[1]).status_code == 204
    assert audit_count(app) == before + 3

    creation, change, deactivation = events(app, target_id=rule_id)
    assert [creation.action, change.action, deactivation.action] == [
        "routing_rule.create",
        "routing_rule.update",
        "routing_rule.deactivate",
    ]
    assert {e.target_kind for e in (creation, change, deactivation)} == {"routing_rule"}
    assert creation.before is None
    assert creation.after == {
        "category_code": "graffiti",
        "area_level": "ward",
        "area_code": MIDDLEHAVEN,
        "answer_code": None,
        "answer_value": None,
        "partner_id": str(first),
        "active": True,
    }
    assert change.before == {
        "area_level": "ward",
        "area_code": MIDDLEHAVEN,
        "partner_id": str(first),
    }
    assert change.after == {"area_level": "any", "area_code": None, "partner_id": str(second)}
    assert (deactivation.before, deactivation.after) == ({"active": True}, {"active": False})


def test_retrying_a_delivery_is_audited_with_its_state_before_and_after(app, client, reference):
    reviewer_id, reviewer = user_headers(app, client, "reviewer")
    with app.app_context():
        partner = PartnerFactory(channel=Channel.EMAIL, email_address="council@example.org")
        message = OutboxMessage(
            id=uuid.uuid4(),
            event_type="referral.created",
            partner=partner,
            channel=Channel.EMAIL,
            payload={},
            state=MessageState.DEAD,
            attempts=10,
            last_error="550 mailbox unavailable",
        )
        db.session.add(message)
        db.session.commit()
        message_id = message.id
    before = audit_count(app)

    response = client.post(f"/v1/staff/deliveries/{message_id}/retry", headers=reviewer)

    assert response.status_code == 200, response.get_json()
    event = one_new_event(app, before, target_id=message_id)
    assert (event.action, event.target_kind) == ("delivery.retry", "delivery")
    assert (str(event.actor_id), event.actor_roles) == (reviewer_id, "reviewer")
    assert (event.before["state"], event.before["attempts"]) == ("dead", 10)
    assert (event.after["state"], event.after["attempts"]) == ("pending", 0)


def test_a_refused_retry_leaves_no_event(app, client, admin):
    before = audit_count(app)
    response = client.post(f"/v1/staff/deliveries/{uuid.uuid4()}/retry", headers=admin[1])
    assert response.status_code == 404
    assert audit_count(app) == before


def test_entering_a_tally_is_audited_with_its_counts(app, client, reference):
    analyst_id, analyst = user_headers(app, client, "analyst")
    counts = {
        "not_at_all_confident": 1,
        "not_very_confident": 2,
        "neither": 3,
        "quite_confident": 4,
        "very_confident": 5,
    }
    before = audit_count(app)

    response = client.post(
        "/v1/staff/confidence/tallies",
        json={
            "event_name": "Hartlepool Waterfront Festival",
            "event_date": "2025-07-19",
            "area": MIDDLEHAVEN,
            "counts": counts,
        },
        headers=analyst,
    )

    assert response.status_code == 201, response.get_json()
    event = one_new_event(app, before, target_id=uuid.UUID(response.get_json()["id"]))
    assert (event.action, event.target_kind, str(event.actor_id)) == (
        "tally.create",
        "tally",
        analyst_id,
    )
    assert event.before is None
    assert event.after == {
        "event_name": "Hartlepool Waterfront Festival",
        "event_date": "2025-07-19",
        "area": MIDDLEHAVEN,
        "counts": counts,
    }


def test_admins_find_an_action_in_the_log_by_its_prefix(app, client, admin):
    with app.app_context():
        partner_id = PartnerFactory().id
    client.patch(f"/v1/admin/partners/{partner_id}", json={"name": "Renamed"}, headers=admin[1])
    client.delete(f"/v1/admin/partners/{partner_id}", headers=admin[1])

    response = client.get(f"{AUDIT}?action=partner.&target_id={partner_id}", headers=admin[1])

    actions = [e["action"] for e in response.get_json()["items"]]
    assert actions == ["partner.deactivate", "partner.update"]
