"""Every error path answers RFC 9457 problem+json, with the headers its status needs."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, register_device, signed_in
from tests.probe import make_probe_app


@pytest.fixture(scope="module")
def app(database):
    return make_probe_app({**TEST_SETTINGS, "DATABASE_URL": database})


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str) and body[member]
    return body


def test_malformed_json_is_400(client):
    response = client.post("/v1/auth/login", data='{"email": ', content_type="application/json")
    assert_problem(response, 400)


def test_body_that_is_not_json_is_415(client):
    response = client.post(
        "/v1/auth/login",
        data="email=a@b.example&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    body = assert_problem(response, 415)
    assert "application/json" in body["detail"]


def test_validation_errors_are_422_with_a_message_per_field(client):
    response = client.post("/v1/auth/login", json={"email": "not-an-email", "password": ""})
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"email", "password"}
    assert all(isinstance(m, str) for messages in body["errors"].values() for m in messages)


def test_unknown_fields_are_422_not_silently_dropped(client):
    response = client.post("/v1/auth/devices", json={"platform": "ios", "role": "admin"})
    body = assert_problem(response, 422)
    assert body["errors"] == {"role": ["Unknown field."]}


def test_control_characters_are_refused(client):
    tokens = register_device(client)
    response = client.post(
        "/test-probe/things", json={"name": "bad\x00name"}, headers=bearer(tokens["access_token"])
    )
    body = assert_problem(response, 422)
    assert "name" in body["errors"]


def test_missing_token_is_401_with_challenge(client):
    body = assert_problem(client.get("/test-probe/admin-only"), 401)
    assert body["status"] == 401
    assert client.get("/test-probe/admin-only").headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_role_is_403(app, client):
    tokens = signed_in(app, client, "reviewer")
    assert_problem(
        client.get("/test-probe/admin-only", headers=bearer(tokens["access_token"])), 403
    )
    admin = signed_in(app, client, "admin")
    assert (
        client.get("/test-probe/admin-only", headers=bearer(admin["access_token"])).status_code
        == 200
    )


def test_unknown_route_is_404(client):
    assert_problem(client.get("/v1/no-such-thing"), 404)


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/v1/auth/login")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_json_body_over_the_cap_is_413(app, client):
    oversized = '{"platform": "ios", "app_version": "' + "1" * app.config["MAX_JSON_BYTES"] + '"}'
    response = client.post("/v1/auth/devices", data=oversized, content_type="application/json")
    assert_problem(response, 413)


def test_any_body_over_the_request_cap_is_413(app, client):
    response = client.post(
        "/v1/auth/devices",
        data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
        content_type="application/octet-stream",
    )
    assert_problem(response, 413)


def test_rate_limited_login_is_429_with_retry_after(client):
    statuses = []
    for _ in range(12):  # the login limit is 10 a minute per client address
        response = client.post(
            "/v1/auth/login", json={"email": "x@copa.example", "password": "nope"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0


def test_unhandled_error_is_500_without_exception_text(client):
    response = client.get("/test-probe/boom")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["detail"].startswith("Something went wrong")


def test_half_a_utf16_pair_is_refused_not_a_500(client):
    response = client.post(
        "/v1/auth/login",
        data='{"email": "a@b.example", "password": "\\ud800"}',
        content_type="application/json",
    )
    body = assert_problem(response, 400)
    assert "Unicode" in body["detail"]


def test_422_and_413_use_rfc_9110_titles(app, client):
    assert client.post("/v1/auth/login", json={}).get_json()["title"] == "Unprocessable Content"
    big = '{"platform": "' + "x" * app.config["MAX_JSON_BYTES"] + '"}'
    response = client.post("/v1/auth/devices", data=big, content_type="application/json")
    assert response.get_json()["title"] == "Content Too Large"
