"""flask-jwt-extended wired to our principals and to problem+json.

The library's own answers (``{"msg": ...}`` with 422 for a bad token) are replaced: every
token failure is a 401 problem with a ``WWW-Authenticate`` challenge (RFC 6750).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable

from flask import Flask, g
from flask_jwt_extended.config import config as jwt_config
from jwt import InvalidTokenError

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


class WrongClaimType(InvalidTokenError):
    """A claim of a type our tokens never carry (``sub`` a number, ``sid`` an object...)."""


def _uuid_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _timestamp(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: object) -> bool:
    return isinstance(value, str)


# What each claim of our tokens holds; a claim not listed is not read by anything.
_CLAIM_TYPES: dict[str, Callable[[object], bool]] = {
    "exp": _timestamp,
    "iat": _timestamp,
    "nbf": _timestamp,
    "iss": _text,
    "aud": lambda value: _text(value) or (isinstance(value, list) and all(map(_text, value))),
    "sub": _uuid_text,
    "sid": _uuid_text,
    "jti": _uuid_text,
    "pid": _uuid_text,
    "kind": lambda value: value in ("device", "user"),
    "type": lambda value: value in ("access", "refresh"),
    "fresh": lambda value: isinstance(value, bool),
    "roles": lambda value: isinstance(value, list) and all(map(_text, value)),
}


@jwt.decode_key_loader
def _key_for_well_typed_claims(header: dict, claims: dict) -> str:
    """The signing key; but first (this is the earliest hook, before any claim is read) a
    token whose claims have types ours never have is refused like any invalid token, rather
    than reaching code that expects a UUID where a list is."""
    for name, valid in _CLAIM_TYPES.items():
        if name in claims and not valid(claims[name]):
            raise WrongClaimType(f"The claim {name} has the wrong type.")
    return jwt_config.decode_key


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
