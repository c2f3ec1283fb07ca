"""Where a resident's report goes, with rules an admin set up through the API.

An answer rule beats an area rule; a ward rule beats a local authority rule beats one for any
area; inactive rules and partners are ignored; with nothing left, the report waits, unrouted,
for OPCC staff.
"""

from __future__ import annotations

import pytest

from tests.factories import bearer, load_reference_data, register_device, signed_in

IN_MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}  # Middlesbrough
IN_ACKLAM = {"lat": 54.55, "lon": -1.26}  # Middlesbrough, another ward
IN_HARTLEPOOL = {"lat": 54.6863, "lon": -1.2129}


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return bearer(signed_in(app, client, "admin")["access_token"])


@pytest.fixture
def resident(client, admin):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def noise_rules(client, admin):
    """Only these rules for noise: by ward, by authority, for any area, and on an answer."""
    demo = client.get(
        "/v1/admin/routing-rules?category_code=noise&page_size=100", headers=admin
    ).get_json()
    for existing in demo["items"]:
        client.delete(f"/v1/admin/routing-rules/{existing['id']}", headers=admin)

    def partner(code: str, name: str) -> str:
        response = client.post(
            "/v1/admin/partners",
            json={"code": code, "name": name, "kind": "council"},
            headers=admin,
        )
        assert response.status_code == 201
        return response.get_json()["id"]

    def rule(partner_id: str, level: str, area: str | None = None, **answer) -> str:
        body = {"category_code": "noise", "area_level": level, "partner_id": partner_id}
        if area:
            body["area_code"] = area
        body.update(answer)
        response = client.post("/v1/admin/routing-rules", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    partners = {
        "ward": partner("ward-team", "Middlehaven neighbourhood team"),
        "authority": partner("authority-team", "Middlesbrough noise team"),
        "any": partner("any-team", "Tees-wide noise service"),
        "answer": partner("licensing", "Licensing team"),
    }
    return {
        "partners": partners,
        "ward": rule(partners["ward"], "ward", "E05001497"),
        "authority": rule(partners["authority"], "local_authority", "E06000002"),
        "any": rule(partners["any"], "any"),
        "answer": rule(partners["answer"], "any", answer_code="source", answer_value="commercial"),
    }


def destination(client, resident, location: dict, source: str = "domestic") -> dict:
    response = client.post(
        "/v1/reports",
        json={
            "category": "noise",
            "description": "Music until 3am every night this week.",
            "location": location,
            "answers": {"source": source},
        },
        headers=resident,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return {"status": body["status"], **body["destination"]}


def test_ward_rule_beats_authority_rule_beats_any_area(client, resident, noise_rules):
    assert destination(client, resident, IN_MIDDLEHAVEN)["name"] == "Middlehaven neighbourhood team"
    assert destination(client, resident, IN_ACKLAM)["name"] == "Middlesbrough noise team"
    assert destination(client, resident, IN_HARTLEPOOL)["name"] == "Tees-wide noise service"


def test_rule_on_an_answer_beats_every_area_rule(client, resident, noise_rules):
    assert destination(client, resident, IN_MIDDLEHAVEN, "commercial") == {
        "status": "routed",
        "kind": "council",
        "name": "Licensing team",
    }


def test_inactive_rule_or_partner_is_passed_over(client, admin, resident, noise_rules):
    client.delete(f"/v1/admin/routing-rules/{noise_rules['ward']}", headers=admin)
    assert destination(client, resident, IN_MIDDLEHAVEN)["name"] == "Middlesbrough noise team"

    client.delete(f"/v1/admin/partners/{noise_rules['partners']['authority']}", headers=admin)
    assert destination(client, resident, IN_MIDDLEHAVEN)["name"] == "Tees-wide noise service"


def test_report_no_rule_matches_waits_unrouted_for_staff(client, admin, resident, noise_rules):
    for name in ("ward", "authority", "any", "answer"):
        client.delete(f"/v1/admin/routing-rules/{noise_rules[name]}", headers=admin)

    assert destination(client, resident, IN_MIDDLEHAVEN, "commercial") == {
        "status": "received",
        "kind": "unrouted",
        "name": "OPCC staff, who will decide where it goes",
    }
