"""Sign-in, refresh rotation, revocation, and tokens forged every way RFC 8725 warns about."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt as pyjwt
import pytest

from copa.auth.models import AuthSession
from copa.db import db
from tests.factories import PASSWORD, bearer, login, register_device, user_with_role

PROTECTED = "/v1/auth/logout"  # any route that needs a valid access token will do


def _assert_401(response, slug: str | None = None) -> dict:
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["status"] == 401
    if slug:
        assert body["type"].endswith(slug)
    return body


def _claims(app, token: str) -> dict:
    return pyjwt.decode(
        token,
        app.config["JWT_SECRET_KEY"],
        algorithms=["HS256"],
        audience=app.config["JWT_AUDIENCE"],
        issuer=app.config["JWT_ISSUER"],
    )


def _sign(
    app, claims: dict, *, key: str | None = None, algorithm: str = "HS256", headers=None
) -> str:
    return pyjwt.encode(
        claims, key or app.config["JWT_SECRET_KEY"], algorithm=algorithm, headers=headers
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_device_registration_returns_tokens_that_work(client):
    tokens = register_device(client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["roles"] == ["resident"]
    assert tokens["expires_in"] == 15 * 60
    assert uuid.UUID(tokens["device_id"])
    response = client.post(PROTECTED, headers=bearer(tokens["access_token"]))
    assert response.status_code == 204


def test_access_token_carries_issuer_audience_expiry_and_pinned_algorithm(app, client):
    tokens = register_device(client)
    header = pyjwt.get_unverified_header(tokens["access_token"])
    claims = _claims(app, tokens["access_token"])
    assert header["alg"] == "HS256"
    assert claims["iss"] == "copa" and claims["aud"] == "copa-api"
    assert claims["exp"] - claims["iat"] == 15 * 60
    refresh = _claims(app, tokens["refresh_token"])
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600
    assert refresh["type"] == "refresh"


def test_staff_login_with_right_password(app, client):
    user = user_with_role(app, "analyst")
    tokens = login(client, user.email.upper())  # email is not case-sensitive
    assert tokens["roles"] == ["analyst"]
    assert tokens["user_id"] == str(user.id)


@pytest.mark.parametrize("password", ["wrong password", ""])
def test_login_with_wrong_password_is_refused(app, client, password):
    user = user_with_role(app, "reviewer")
    response = client.post("/v1/auth/login", json={"email": user.email, "password": password})
    assert response.status_code in (401, 422)
    assert response.mimetype == "application/problem+json"
    assert "access_token" not in response.get_json()


def test_login_for_unknown_email_says_the_same_as_a_wrong_password(app, client):
    user = user_with_role(app, "reviewer")
    unknown = client.post(
        "/v1/auth/login", json={"email": "nobody@copa.example", "password": PASSWORD}
    )
    wrong = client.post("/v1/auth/login", json={"email": user.email, "password": "nope"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json()["detail"] == wrong.get_json()["detail"]


def test_disabled_user_cannot_sign_in_and_is_locked_out_at_once(app, client):
    user = user_with_role(app, "admin")
    tokens = login(client, user.email)
    assert client.post(PROTECTED, headers=bearer(tokens["access_token"])).status_code == 204
    tokens = login(client, user.email)
    with app.app_context():
        db.session.get(type(user), user.id).active = False
        db.session.commit()
    _assert_401(client.post(PROTECTED, headers=bearer(tokens["access_token"])), "token-revoked")
    _assert_401(client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD}))


def test_refresh_rotates_and_each_refresh_token_works_once(client):
    first = register_device(client)
    second = client.post("/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.post(PROTECTED, headers=bearer(second["access_token"])).status_code == 204


def test_reused_refresh_token_revokes_the_whole_family(app, client):
    first = register_device(client)
    rotated = client.post("/v1/auth/refresh", headers=bearer(first["refresh_token"])).get_json()
    # An attacker (or a confused client) spends the old refresh token again.
    reuse = client.post("/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    _assert_401(reuse, "refresh-token-reused")
    # Everything issued from that sign-in is now refused, including the legitimate new pair.
    _assert_401(client.post(PROTECTED, headers=bearer(rotated["access_token"])), "token-revoked")
    _assert_401(
        client.post("/v1/auth/refresh", headers=bearer(rotated["refresh_token"])), "token-revoked"
    )
    with app.app_context():
        session_id = uuid.UUID(_claims(app, first["access_token"])["sid"])
        assert db.session.get(AuthSession, session_id).revoked_reason == "refresh_reuse"


def test_logout_revokes_access_and_refresh_tokens(client):
    tokens = register_device(client)
    assert client.post(PROTECTED, headers=bearer(tokens["access_token"])).status_code == 204
    _assert_401(client.post(PROTECTED, headers=bearer(tokens["access_token"])), "token-revoked")
    _assert_401(
        client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), "token-revoked"
    )


def test_missing_token_is_401_with_a_bearer_challenge(client):
    body = _assert_401(client.post(PROTECTED), "token-missing")
    assert "Bearer" in body["detail"]


def test_refresh_token_is_not_accepted_as_an_access_token(client):
    tokens = register_device(client)
    _assert_401(client.post(PROTECTED, headers=bearer(tokens["refresh_token"])), "token-invalid")


def test_access_token_is_not_accepted_as_a_refresh_token(client):
    tokens = register_device(client)
    _assert_401(
        client.post("/v1/auth/refresh", headers=bearer(tokens["access_token"])), "token-invalid"
    )


def test_alg_none_token_is_refused(app, client):
    claims = _claims(app, register_device(client)["access_token"])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    _assert_401(client.post(PROTECTED, headers=bearer(unsigned)), "token-invalid")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_token_signed_with_another_algorithm_is_refused(app, client):
    claims = _claims(app, register_device(client)["access_token"])
    forged = _sign(app, claims, algorithm="HS512")  # the right key, the wrong algorithm
    _assert_401(client.post(PROTECTED, headers=bearer(forged)), "token-invalid")


def test_token_signed_with_the_wrong_key_is_refused(app, client):
    claims = _claims(app, register_device(client)["access_token"])
    forged = _sign(app, claims, key="an attacker's guess at the key, long enough for hs256")
    _assert_401(client.post(PROTECTED, headers=bearer(forged)), "token-invalid")


def test_expired_token_is_refused(app, client):
    claims = _claims(app, register_device(client)["access_token"])
    claims["iat"] = int(time.time()) - 3600
    claims["nbf"] = claims["iat"]
    claims["exp"] = int(time.time()) - 60
    _assert_401(client.post(PROTECTED, headers=bearer(_sign(app, claims))), "token-expired")


def test_token_without_expiry_is_refused(app, client):
    claims = _claims(app, register_device(client)["access_token"])
    del claims["exp"]
    _assert_401(client.post(PROTECTED, headers=bearer(_sign(app, claims))), "token-invalid")


@pytest.mark.parametrize("audience", ["another-api", None])
def test_token_with_wrong_or_missing_audience_is_refused(app, client, audience):
    claims = _claims(app, register_device(client)["access_token"])
    if audience is None:
        del claims["aud"]
    else:
        claims["aud"] = audience
    _assert_401(client.post(PROTECTED, headers=bearer(_sign(app, claims))), "token-invalid")


def test_token_with_wrong_issuer_is_refused(app, client):
    claims = _claims(app, register_device(client)["access_token"])
    claims["iss"] = "someone-else"
    _assert_401(client.post(PROTECTED, headers=bearer(_sign(app, claims))), "token-invalid")


def test_token_for_a_sign_in_that_never_existed_is_refused(app, client):
    """A correctly signed token still needs a live sign-in behind it (revocation check)."""
    claims = _claims(app, register_device(client)["access_token"])
    claims["sid"] = str(uuid.uuid4())
    _assert_401(client.post(PROTECTED, headers=bearer(_sign(app, claims))), "token-revoked")


def test_garbage_bearer_value_is_refused(client):
    _assert_401(client.post(PROTECTED, headers=bearer("not-a-jwt")))
    _assert_401(client.post(PROTECTED, headers={"Authorization": "Basic dXNlcjpwYXNz"}))


def test_role_in_a_token_does_not_outlast_the_database(app, client):
    """Roles are re-read from the database: a reviewer demoted to analyst loses reviewer rights."""
    user = user_with_role(app, "reviewer")
    tokens = login(client, user.email)
    with app.app_context():
        from copa.auth.service import load_principal

        claims = _claims(app, tokens["access_token"])
        db.session.get(type(user), user.id).roles = ["analyst"]
        db.session.commit()
        assert load_principal(claims).roles == frozenset({"analyst"})
