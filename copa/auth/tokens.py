"""flask-jwt-extended wired to our principals and to problem+json.

The library's own answers (``{"msg": ...}`` with 422 for a bad token) are replaced: every
token failure is a 401 problem with a ``WWW-Authenticate`` challenge (RFC 6750).
"""

from __future__ import annotations

from flask import Flask, g

from copa.auth import service
from copa.extensions import jwt
from copa.web.problems import problem, problem_type


def _challenge(error: str | None, description: str) -> dict[str, str]:
    value = 'Bearer realm="copa"'
    if error:
        value += f', error="{error}", error_description="{description}"'
    return {"WWW-Authenticate": value}


def _unauthorized(detail: str, slug: str, error: str | None = "invalid_token"):
    return problem(
        401,
        detail=detail,
        type=problem_type(slug),
        title="Unauthorized",
        headers=_challenge(error, detail),
    )


@jwt.unauthorized_loader
def _missing(reason: str):
    return _unauthorized(
        "Send an access token: Authorization: Bearer <token>.", "token-missing", None
    )


@jwt.invalid_token_loader
def _invalid(reason: str):
    return _unauthorized("The token is not valid.", "token-invalid")


@jwt.expired_token_loader
def _expired(header: dict, claims: dict):
    return _unauthorized("The token has expired. Refresh it or sign in again.", "token-expired")


@jwt.revoked_token_loader
def _revoked(header: dict, claims: dict):
    return _unauthorized("This sign-in has ended. Sign in again.", "token-revoked")


@jwt.needs_fresh_token_loader
def _needs_fresh(header: dict, claims: dict):
    return _unauthorized("This needs a fresh sign-in.", "token-not-fresh")


@jwt.user_lookup_error_loader
def _lookup_failed(header: dict, claims: dict):
    return _unauthorized("This sign-in has ended. Sign in again.", "token-revoked")


@jwt.token_verification_failed_loader
def _verification_failed(header: dict, claims: dict):
    return _unauthorized("The token is not valid.", "token-invalid")


@jwt.token_verification_loader
def _has_required_claims(header: dict, claims: dict) -> bool:
    """PyJWT checks ``exp`` only when present: a token without one would never expire (RFC 8725)."""
    return all(name in claims for name in ("exp", "iat", "sub", "sid", "kind"))


@jwt.token_in_blocklist_loader
def _is_revoked(header: dict, claims: dict) -> bool:
    """The revocation check of every authenticated request; remembers who the caller is."""
    principal = service.load_principal(claims)
    if principal is None:
        return True
    g.principal = principal
    return False


def init_tokens(app: Flask) -> None:
    """Nothing to bind: importing this module registers the callbacks on ``jwt``."""
    app.extensions.setdefault("copa_tokens", True)
