"""A 204 is a status and headers, nothing else: no body, and no Content-Type or Content-Length
describing one (RFC 9110 15.3.5). Every 204 route of the API is called here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from copa.openapi import render_openapi
from tests.factories import PartnerFactory, bearer, load_reference_data, signed_in


def _resident(app, client) -> dict[str, str]:
    return bearer(signed_in(app, client, "resident")["access_token"])


def _admin(app, client) -> dict[str, str]:
    load_reference_data(app)
    return bearer(signed_in(app, client, "admin")["access_token"])


def _logout(app, client):
    return client.post("/v1/auth/logout", headers=_resident(app, client))


def _erase_me(app, client):
    return client.delete("/v1/me", headers=_resident(app, client))


def _remove_push_token(app, client):
    resident = _resident(app, client)
    token = {"platform": "android", "token": "fcm-token-aaaaaaaaaaaa"}
    assert client.put("/v1/me/push-token", json=token, headers=resident).status_code == 200
    return client.delete("/v1/me/push-token", headers=resident)


def _deactivate_partner(app, client):
    admin = _admin(app, client)
    with app.app_context():
        partner_id = PartnerFactory().id
    return client.delete(f"/v1/admin/partners/{partner_id}", headers=admin)


def _deactivate_rule(app, client):
    admin = _admin(app, client)
    with app.app_context():
        partner_id = str(PartnerFactory().id)
    rule = client.post(
        "/v1/admin/routing-rules",
        json={"category_code": "graffiti", "area_level": "any", "partner_id": partner_id},
        headers=admin,
    )
    assert rule.status_code == 201, rule.get_json()
    return client.delete(f"/v1/admin/routing-rules/{rule.get_json()['id']}", headers=admin)


def _deactivate_signpost(app, client):
    admin = _admin(app, client)
    signpost = client.post(
        "/v1/admin/signposts",
        json={
            "code": "no-content-check",
            "title": "Crime prevention advice",
            "organisation": "Cleveland Police",
            "url": "https://www.cleveland.police.uk/cp/crime-prevention/",
            "topic": "crime_prevention",
            "destination_kind": "police",
        },
        headers=admin,
    )
    assert signpost.status_code == 201, signpost.get_json()
    return client.delete(f"/v1/admin/signposts/{signpost.get_json()['id']}", headers=admin)


def _deactivate_category(app, client):
    admin = _admin(app, client)  # the reference data has graffiti
    return client.delete("/v1/admin/categories/graffiti", headers=admin)


CALLS: dict[tuple[str, str], Callable] = {
    ("POST", "/v1/auth/logout"): _logout,
    ("DELETE", "/v1/me"): _erase_me,
    ("DELETE", "/v1/me/push-token"): _remove_push_token,
    ("DELETE", "/v1/admin/partners/{partner_id}"): _deactivate_partner,
    ("DELETE", "/v1/admin/routing-rules/{rule_id}"): _deactivate_rule,
    ("DELETE", "/v1/admin/signposts/{signpost_id}"): _deactivate_signpost,
    ("DELETE", "/v1/admin/categories/{code}"): _deactivate_category,
}


def test_every_204_route_of_the_api_is_called_here(app):
    with app.app_context():
        spec = yaml.safe_load(render_openapi())
    no_content = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "204" in map(str, operation.get("responses", {}))
    }

    assert no_content == set(CALLS)


@pytest.mark.parametrize("method,path", sorted(CALLS), ids=" ".join)
def test_a_204_has_no_content_type_and_no_body(app, client, method, path):
    response = CALLS[(method, path)](app, client)

    assert response.status_code == 204
    assert "Content-Type" not in response.headers
    assert "Content-Length" not in response.headers
    assert response.get_data() == b""
