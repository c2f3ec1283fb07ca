"""An admin says where reports go: category x area (x an answer) -> partner."""

from __future__ import annotations

import uuid

import pytest

from copa.routing.models import RoutingRule
from tests.factories import PartnerFactory, bearer, load_reference_data, signed_in, table_counts

MIDDLEHAVEN = "E05001497"  # a ward of Middlesbrough
MIDDLESBROUGH = "E06000002"


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return bearer(signed_in(app, client, "admin")["access_token"])


@pytest.fixture
def partner_id(app) -> str:
    with app.app_context():
        return str(PartnerFactory(kind="council").id)


@pytest.fixture
def inactive_partner_id(app) -> str:
    with app.app_context():
        return str(PartnerFactory(kind="council", active=False).id)


def rule(partner_id: str, /, **overrides) -> dict:
    body = {
        "category_code": "graffiti",
        "area_level": "ward",
        "area_code": MIDDLEHAVEN,
        "partner_id": partner_id,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_admin_adds_reads_changes_and_deactivates_a_rule(client, admin, partner_id):
    created = client.post(
        "/v1/admin/routing-rules",
        json=rule(partner_id, answer_code="offensive", answer_value="yes"),
        headers=admin,
    )

    assert created.status_code == 201
    body = created.get_json()
    assert created.headers["Location"].endswith(f"/v1/admin/routing-rules/{body['id']}")
    assert body["category_code"] == "graffiti"
    assert body["area_level"] == "ward" and body["area_code"] == MIDDLEHAVEN
    assert (body["answer_code"], body["answer_value"]) == ("offensive", "yes")
    assert body["partner"]["id"] == partner_id and body["active"] is True
    assert client.get(created.headers["Location"], headers=admin).get_json() == body

    changed = client.patch(
        created.headers["Location"],
        json={"area_level": "local_authority", "area_code": MIDDLESBROUGH, "answer_value": "no"},
        headers=admin,
    )
    assert changed.status_code == 200
    assert changed.get_json()["area_level"] == "local_authority"
    assert changed.get_json()["area_code"] == MIDDLESBROUGH
    assert changed.get_json()["answer_value"] == "no"

    widened = client.patch(created.headers["Location"], json={"area_level": "any"}, headers=admin)
    assert widened.status_code == 200
    assert widened.get_json()["area_code"] is None

    assert client.delete(created.headers["Location"], headers=admin).status_code == 204
    assert client.get(created.headers["Location"], headers=admin).get_json()["active"] is False


def test_rules_list_filters_by_category_partner_and_active(client, admin, partner_id):
    mine = client.post("/v1/admin/routing-rules", json=rule(partner_id), headers=admin).get_json()
    client.delete(f"/v1/admin/routing-rules/{mine['id']}", headers=admin)

    by_partner = client.get(
        f"/v1/admin/routing-rules?partner_id={partner_id}", headers=admin
    ).get_json()
    graffiti = client.get(
        "/v1/admin/routing-rules?category_code=graffiti&active=true&page_size=100", headers=admin
    ).get_json()
    inactive = client.get("/v1/admin/routing-rules?active=false", headers=admin).get_json()

    assert [r["id"] for r in by_partner["items"]] == [mine["id"]]
    assert graffiti["total"] == 4  # the demo rules: one per council
    assert {r["category_code"] for r in graffiti["items"]} == {"graffiti"}
    assert mine["id"] not in [r["id"] for r in graffiti["items"]]
    assert [r["id"] for r in inactive["items"]] == [mine["id"]]


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"category_code": "potholes"}, "category_code"),
        ({"area_level": "county"}, "area_level"),
        ({"area_code": None}, "area_code"),
        ({"area_code": "E05999999"}, "area_code"),
        ({"area_code": MIDDLESBROUGH}, "area_code"),  # an authority is not a ward
        ({"area_level": "local_authority", "area_code": MIDDLEHAVEN}, "area_code"),
        ({"area_level": "any"}, "area_code"),  # any area takes no code
        ({"answer_code": "offensive"}, "answer_value"),
        ({"answer_value": "yes"}, "answer_code"),
        ({"answer_code": "size", "answer_value": "large"}, "answer_code"),
        ({"answer_code": "offensive", "answer_value": "very"}, "answer_value"),
        (
            {"category_code": "abandoned_vehicle", "answer_code": "days_seen", "answer_value": "3"},
            "answer_code",
        ),
        ({"partner_id": str(uuid.uuid4())}, "partner_id"),
        ({"partner_id": "not-a-uuid"}, "partner_id"),
        ({"category_code": None}, "category_code"),
        ({"priority": 1}, "priority"),
    ],
)
def test_invalid_rule_is_refused_naming_the_field(app, client, admin, partner_id, overrides, field):
    before = table_counts(app, RoutingRule)

    response = client.post(
        "/v1/admin/routing-rules", json=rule(partner_id, **overrides), headers=admin
    )

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert table_counts(app, RoutingRule) == before


def test_rule_cannot_name_an_inactive_partner(app, client, admin, inactive_partner_id):
    before = table_counts(app, RoutingRule)

    response = client.post("/v1/admin/routing-rules", json=rule(inactive_partner_id), headers=admin)

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"partner_id": ["No active partner with this id."]}
    assert table_counts(app, RoutingRule) == before


def test_invalid_change_leaves_the_rule_as_it_was(client, admin, partner_id, inactive_partner_id):
    created = client.post("/v1/admin/routing-rules", json=rule(partner_id), headers=admin)
    url = created.headers["Location"]

    refused = [
        client.patch(url, json={"area_code": "E05999999"}, headers=admin),
        client.patch(url, json={"area_level": "local_authority"}, headers=admin),
        client.patch(url, json={"partner_id": inactive_partner_id}, headers=admin),
        client.patch(url, json={"answer_code": "offensive"}, headers=admin),
    ]

    assert [r.status_code for r in refused] == [422] * 4
    assert client.get(url, headers=admin).get_json() == created.get_json()


def test_rule_of_a_partner_deactivated_later_can_still_be_switched_off(client, admin, partner_id):
    created = client.post("/v1/admin/routing-rules", json=rule(partner_id), headers=admin)
    client.delete(f"/v1/admin/partners/{partner_id}", headers=admin)

    response = client.patch(created.headers["Location"], json={"active": False}, headers=admin)

    assert response.status_code == 200
    body = response.get_json()
    assert body["active"] is False
    assert body["partner"]["id"] == partner_id and body["partner"]["active"] is False


def test_unknown_rule_is_404(client, admin):
    url = f"/v1/admin/routing-rules/{uuid.uuid4()}"
    assert client.get(url, headers=admin).status_code == 404
    assert client.patch(url, json={"active": True}, headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 404


@pytest.mark.parametrize("role", ["reviewer", "partner", "resident"])
def test_only_admins_manage_rules(app, client, role, partner_id):
    headers = bearer(signed_in(app, client, role)["access_token"])

    assert client.get("/v1/admin/routing-rules", headers=headers).status_code == 403
    assert (
        client.post("/v1/admin/routing-rules", json=rule(partner_id), headers=headers).status_code
        == 403
    )
