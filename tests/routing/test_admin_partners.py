"""An admin registers partner organisations and the channel their referrals travel by."""

from __future__ import annotations

import base64
import ipaddress
import uuid
from datetime import UTC, datetime

import pytest

from copa.db import db
from copa.outbox import ssrf
from copa.routing.models import Partner
from tests.factories import bearer, load_reference_data, signed_in, table_counts

# Name resolution is stubbed: these tests never look a name up nor connect anywhere.
HOSTS = {
    "hooks.thirteen.example": ["93.184.215.14"],
    "open311.stockton.example": ["93.184.215.15"],
    "intranet.thirteen.example": ["10.0.0.5"],
    "rebind.example": ["93.184.215.16", "169.254.169.254"],
}
WEBHOOK_URL = "https://hooks.thirteen.example/copa/webhooks"


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host not in HOSTS:
        raise OSError("name does not resolve (stub)")
    return HOSTS[host]


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    monkeypatch.setattr(ssrf, "resolve", _resolve)


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return bearer(signed_in(app, client, "admin")["access_token"])


def webhook_partner(**overrides) -> dict:
    body = {
        "code": "thirteen-test",
        "name": "Thirteen Housing (test)",
        "kind": "housing_provider",
        "channel": "webhook",
        "endpoint_url": WEBHOOK_URL,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def open311_partner(**overrides) -> dict:
    body = {
        "code": "stockton-open311",
        "name": "Stockton Council (Open311)",
        "kind": "council",
        "local_authority_code": "E06000004",
        "channel": "open311",
        "endpoint_url": "https://open311.stockton.example/georeport/v2/",
        "open311_api_key": "stockton-api-key-0123456789",
        "open311_jurisdiction_id": "stockton.gov.uk",
        "open311_service_codes": {"fly_tipping": "FT01", "graffiti": "GR02"},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def stored_secrets(app, partner_id: str) -> list[str]:
    with app.app_context():
        return list(db.session.get(Partner, uuid.UUID(partner_id)).webhook_secrets)


def test_webhook_partner_gets_a_generated_secret_shown_once(client, admin):
    response = client.post("/v1/admin/partners", json=webhook_partner(), headers=admin)

    assert response.status_code == 201
    body = response.get_json()
    secret = body["webhook_secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    assert body["webhook_secret_count"] == 1
    assert body["channel"] == "webhook" and body["endpoint_url"] == WEBHOOK_URL
    assert body["active"] is True
    assert response.headers["Location"].endswith(f"/v1/admin/partners/{body['id']}")
    # Never again: not in the partner, not in the list.
    again = client.get(response.headers["Location"], headers=admin)
    assert again.status_code == 200
    assert "webhook_secret" not in again.get_json()
    assert secret not in again.get_data(as_text=True)
    assert secret not in client.get("/v1/admin/partners", headers=admin).get_data(as_text=True)


def test_secret_chosen_by_the_admin_is_kept_and_not_echoed(app, client, admin):
    own = "whsec_" + base64.b64encode(b"k" * 32).decode()

    response = client.post(
        "/v1/admin/partners", json=webhook_partner(webhook_secret=own), headers=admin
    )

    assert response.status_code == 201
    assert response.get_json()["webhook_secret"] is None
    assert own not in response.get_data(as_text=True)
    assert stored_secrets(app, response.get_json()["id"]) == [own]


def test_open311_partner_is_registered_without_showing_its_api_key(client, admin):
    response = client.post("/v1/admin/partners", json=open311_partner(), headers=admin)

    assert response.status_code == 201
    body = response.get_json()
    assert body["has_open311_api_key"] is True
    assert "open311_api_key" not in body
    assert body["open311_service_codes"] == {"fly_tipping": "FT01", "graffiti": "GR02"}
    assert body["open311_jurisdiction_id"] == "stockton.gov.uk"
    assert body["local_authority_code"] == "E06000004"
    assert body["webhook_secret"] is None and body["webhook_secret_count"] == 0
    assert "stockton-api-key-0123456789" not in response.get_data(as_text=True)


def test_email_and_api_only_partners(client, admin):
    email = client.post(
        "/v1/admin/partners",
        json={
            "code": "tees-hsc-test",
            "name": "Tees health and social care (test)",
            "kind": "health_and_social_care",
            "channel": "email",
            "email_address": "referrals@hsc.example.org",
        },
        headers=admin,
    )
    api_only = client.post(
        "/v1/admin/partners",
        json={"code": "opcc-test", "name": "OPCC (test)", "kind": "opcc"},
        headers=admin,
    )

    assert email.status_code == 201
    assert email.get_json()["email_address"] == "referrals@hsc.example.org"
    assert api_only.status_code == 201
    assert api_only.get_json()["channel"] == "none"


@pytest.mark.parametrize(
    "body,field",
    [
        (webhook_partner(name=None), "name"),
        (webhook_partner(name="   "), "name"),
        (webhook_partner(code="Thirteen Housing"), "code"),
        (webhook_partner(code="thirteen--housing"), "code"),
        (webhook_partner(kind="charity"), "kind"),
        (webhook_partner(channel="carrier-pigeon"), "channel"),
        (webhook_partner(endpoint_url=None), "endpoint_url"),
        (webhook_partner(endpoint_url="http://hooks.thirteen.example/copa"), "endpoint_url"),
        (webhook_partner(endpoint_url="ftp://hooks.thirteen.example/copa"), "endpoint_url"),
        (webhook_partner(endpoint_url="not a url"), "endpoint_url"),
        (webhook_partner(endpoint_url="https://nowhere.invalid/hook"), "endpoint_url"),
        (webhook_partner(endpoint_url="https://user:pw@hooks.thirteen.example/"), "endpoint_url"),
        (webhook_partner(webhook_secret="whsec_short"), "webhook_secret"),
        (webhook_partner(webhook_secret="not-a-secret-at-all-0123456789"), "webhook_secret"),
        (webhook_partner(email_address="x@example.org"), "email_address"),
        (webhook_partner(open311_api_key="key"), "open311_api_key"),
        (webhook_partner(local_authority_code="E06000099"), "local_authority_code"),
        (webhook_partner(secret="whsec_abc"), "secret"),
        (open311_partner(open311_api_key=None), "open311_api_key"),
        (open311_partner(endpoint_url=None), "endpoint_url"),
        (open311_partner(open311_service_codes={"potholes": "PH"}), "open311_service_codes"),
        (open311_partner(webhook_secret="whsec_" + "A" * 32), "webhook_secret"),
        (
            {"code": "mail", "name": "Mail", "kind": "council", "channel": "email"},
            "email_address",
        ),
        (
            {
                "code": "mail",
                "name": "Mail",
                "kind": "council",
                "channel": "email",
                "email_address": "not-an-email",
            },
            "email_address",
        ),
        (
            {
                "code": "mail",
                "name": "Mail",
                "kind": "council",
                "channel": "email",
                "email_address": "a@example.org",
                "endpoint_url": WEBHOOK_URL,
            },
            "endpoint_url",
        ),
        (
            {"code": "none", "name": "None", "kind": "opcc", "open311_api_key": "k"},
            "open311_api_key",
        ),
    ],
)
def test_invalid_partner_is_refused_naming_the_field(app, client, admin, body, field):
    before = table_counts(app, Partner)

    response = client.post("/v1/admin/partners", json=body, headers=admin)

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert table_counts(app, Partner) == before


def test_partner_code_is_unique(app, client, admin):
    assert (
        client.post("/v1/admin/partners", json=webhook_partner(), headers=admin).status_code == 201
    )
    before = table_counts(app, Partner)

    response = client.post(
        "/v1/admin/partners", json=webhook_partner(name="Another name"), headers=admin
    )

    assert response.status_code == 409
    assert response.get_json()["errors"] == {"code": ["Already used by another partner."]}
    assert table_counts(app, Partner) == before


@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://127.0.0.1/", "loopback"),
        ("https://127.0.0.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/", "loopback"),
        ("https://[::ffff:10.1.2.3]/", "private"),
        ("https://intranet.thirteen.example/hook", "private"),
        ("https://rebind.example/hook", "link-local"),
    ],
)
def test_endpoint_inside_our_network_is_refused_at_registration(app, client, admin, url, reason):
    before = table_counts(app, Partner)

    response = client.post(
        "/v1/admin/partners", json=webhook_partner(endpoint_url=url), headers=admin
    )

    assert response.status_code == 422
    [message] = response.get_json()["errors"]["endpoint_url"]
    assert reason in message
    assert table_counts(app, Partner) == before


def test_loopback_endpoint_is_allowed_when_development_says_so(app, client, admin, monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_LOOPBACK_TARGETS", True)

    local = client.post(
        "/v1/admin/partners",
        json=webhook_partner(endpoint_url="http://127.0.0.1:8025/sink"),
        headers=admin,
    )
    private = client.post(
        "/v1/admin/partners",
        json=webhook_partner(code="private", endpoint_url="http://10.1.2.3/"),
        headers=admin,
    )

    assert local.status_code == 201
    assert local.get_json()["endpoint_url"] == "http://127.0.0.1:8025/sink"
    assert private.status_code == 422  # loopback only: a private network stays out of reach


def test_secret_rotation_keeps_both_signing_until_the_old_one_is_retired(app, client, admin):
    created = client.post("/v1/admin/partners", json=webhook_partner(), headers=admin).get_json()
    old = created["webhook_secret"]
    url = f"/v1/admin/partners/{created['id']}"

    rotated = client.patch(url, json={"rotate_webhook_secret": True}, headers=admin)

    assert rotated.status_code == 200
    new = rotated.get_json()["webhook_secret"]
    assert new.startswith("whsec_") and new != old
    assert old not in rotated.get_data(as_text=True)
    assert rotated.get_json()["webhook_secret_count"] == 2
    assert stored_secrets(app, created["id"]) == [old, new]  # both sign every delivery

    retired = client.patch(url, json={"retire_old_webhook_secrets": True}, headers=admin)

    assert retired.status_code == 200
    assert retired.get_json()["webhook_secret"] is None
    assert retired.get_json()["webhook_secret_count"] == 1
    assert stored_secrets(app, created["id"]) == [new]


def test_no_admin_response_shows_a_secret_after_creation(app, client, admin):
    own = "whsec_" + base64.b64encode(b"s" * 24).decode()
    webhook = client.post(
        "/v1/admin/partners", json=webhook_partner(webhook_secret=own), headers=admin
    )
    open311 = client.post("/v1/admin/partners", json=open311_partner(), headers=admin)
    secrets = {own, "stockton-api-key-0123456789"}
    responses = [webhook, open311]
    for partner in (webhook.get_json(), open311.get_json()):
        url = f"/v1/admin/partners/{partner['id']}"
        responses.append(client.get(url, headers=admin))
        responses.append(client.patch(url, json={"name": "Renamed"}, headers=admin))
        responses.append(client.patch(url, json={"active": False}, headers=admin))
        responses.append(client.delete(url, headers=admin))
        responses.append(client.get(url, headers=admin))
    rotation = client.patch(
        f"/v1/admin/partners/{webhook.get_json()['id']}",
        json={"rotate_webhook_secret": True},
        headers=admin,
    )
    secrets.add(rotation.get_json()["webhook_secret"])  # shown in that answer only
    url = f"/v1/admin/partners/{webhook.get_json()['id']}"
    responses.append(client.get(url, headers=admin))
    responses.append(client.patch(url, json={"retire_old_webhook_secrets": True}, headers=admin))
    responses.append(client.get("/v1/admin/partners", headers=admin))
    responses.append(client.get("/v1/admin/partners?page_size=100&active=false", headers=admin))
    responses.append(client.get("/v1/admin/routing-rules?page_size=100", headers=admin))

    for response in responses:
        assert response.status_code in (200, 201, 204)
        text = response.get_data(as_text=True)
        assert not [secret for secret in secrets if secret in text]
    assert stored_secrets(app, webhook.get_json()["id"]) == [rotation.get_json()["webhook_secret"]]


def test_changing_channel_drops_the_old_channel_settings(app, client, admin):
    created = client.post("/v1/admin/partners", json=webhook_partner(), headers=admin).get_json()

    response = client.patch(
        f"/v1/admin/partners/{created['id']}",
        json={"channel": "email", "email_address": "asb@thirteen.example"},
        headers=admin,
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["channel"] == "email"
    assert body["email_address"] == "asb@thirteen.example"
    assert body["endpoint_url"] is None and body["webhook_secret_count"] == 0
    assert stored_secrets(app, created["id"]) == []


def test_invalid_change_changes_nothing(client, admin):
    created = client.post("/v1/admin/partners", json=webhook_partner(), headers=admin).get_json()
    url = f"/v1/admin/partners/{created['id']}"

    refused = [
        client.patch(url, json={"name": "New", "channel": "open311"}, headers=admin),
        client.patch(url, json={"endpoint_url": "https://10.0.0.1/"}, headers=admin),
        client.patch(url, json={"kind": "charity"}, headers=admin),
        client.patch(url, json={"webhook_secret": "whsec_abc"}, headers=admin),
        client.patch(url, json={"code": "renamed"}, headers=admin),
    ]

    assert [r.status_code for r in refused] == [422] * 5
    assert "open311_api_key" in refused[0].get_json()["errors"]
    after = client.get(url, headers=admin).get_json()
    assert after["name"] == created["name"]
    assert after["channel"] == "webhook" and after["endpoint_url"] == WEBHOOK_URL
    assert after["webhook_secret_count"] == 1


def _disable_endpoint(app, partner_id: str) -> None:
    with app.app_context():
        db.session.get(Partner, uuid.UUID(partner_id)).endpoint_disabled_at = datetime.now(UTC)
        db.session.commit()


def test_endpoint_gone_is_enabled_again_by_a_new_url_or_on_request(app, client, admin):
    created = client.post("/v1/admin/partners", json=webhook_partner(), headers=admin).get_json()
    url = f"/v1/admin/partners/{created['id']}"
    _disable_endpoint(app, created["id"])

    renamed = client.patch(url, json={"name": "Still gone"}, headers=admin).get_json()
    moved = client.patch(
        url, json={"endpoint_url": "https://hooks.thirteen.example/v2"}, headers=admin
    ).get_json()
    _disable_endpoint(app, created["id"])
    enabled = client.patch(url, json={"enable_endpoint": True}, headers=admin).get_json()
    _disable_endpoint(app, created["id"])
    rotated = client.patch(url, json={"rotate_webhook_secret": True}, headers=admin).get_json()

    assert renamed["endpoint_disabled_at"] is not None
    assert moved["endpoint_disabled_at"] is None
    assert enabled["endpoint_disabled_at"] is None
    assert rotated["endpoint_disabled_at"] is None


def test_deleting_a_partner_deactivates_it_and_keeps_it(client, admin):
    created = client.post("/v1/admin/partners", json=webhook_partner(), headers=admin).get_json()
    url = f"/v1/admin/partners/{created['id']}"

    response = client.delete(url, headers=admin)

    assert response.status_code == 204
    kept = client.get(url, headers=admin)
    assert kept.status_code == 200 and kept.get_json()["active"] is False
    assert client.delete(url, headers=admin).status_code == 204  # repeating is harmless
    active = client.get("/v1/admin/partners?active=true&page_size=100", headers=admin).get_json()
    assert created["id"] not in [p["id"] for p in active["items"]]


def test_partner_list_filters_by_kind_and_active(client, admin):
    client.post("/v1/admin/partners", json=webhook_partner(), headers=admin)
    client.post("/v1/admin/partners", json=open311_partner(active=False), headers=admin)

    housing = client.get("/v1/admin/partners?kind=housing_provider", headers=admin).get_json()
    inactive = client.get("/v1/admin/partners?active=false", headers=admin).get_json()
    everyone = client.get("/v1/admin/partners?page_size=100", headers=admin).get_json()
    page = client.get("/v1/admin/partners?page_size=2&page=2", headers=admin).get_json()

    assert {p["code"] for p in housing["items"]} == {
        "thirteen-housing",
        "habinteg-housing",
        "thirteen-test",
    }
    assert [p["code"] for p in inactive["items"]] == ["stockton-open311"]
    assert page["page"] == 2 and page["page_size"] == 2
    assert page["items"] == everyone["items"][2:4]  # by name
    assert page["total"] == everyone["total"] == len(everyone["items"])


def test_unknown_partner_is_404(client, admin):
    url = f"/v1/admin/partners/{uuid.uuid4()}"
    assert client.get(url, headers=admin).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 404


@pytest.mark.parametrize("role", ["reviewer", "partner", "resident"])
def test_only_admins_manage_partners(app, client, role):
    load_reference_data(app)
    headers = bearer(signed_in(app, client, role)["access_token"])

    assert client.get("/v1/admin/partners", headers=headers).status_code == 403
    assert (
        client.post("/v1/admin/partners", json=webhook_partner(), headers=headers).status_code
        == 403
    )
