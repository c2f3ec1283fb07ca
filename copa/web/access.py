"""Who may call a route: every view declares it with ``requires``.

``requires(PUBLIC)`` opens a route to anyone; ``requires(Role.ADMIN, ...)`` demands a valid
access token whose principal, re-read from the database on this request, holds one of the
roles. The declaration is kept on the view function (``POLICY_ATTR``) so a test can walk the
URL map and fail on any route that forgot one, and it is written into the OpenAPI document.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any

from flask import g
from flask_jwt_extended import verify_jwt_in_request
from flask_smorest import Blueprint as _SmorestBlueprint

from copa.web.problems import Forbidden, Unauthorized


class Role(StrEnum):
    RESIDENT = "resident"
    REVIEWER = "reviewer"
    RESOLUTION = "resolution"
    ANALYST = "analyst"
    ADMIN = "admin"
    PARTNER = "partner"


STAFF_ROLES = frozenset({Role.REVIEWER, Role.RESOLUTION, Role.ANALYST, Role.ADMIN})
USER_ROLES = STAFF_ROLES | {Role.PARTNER}
PUBLIC = "public"
AUTHENTICATED = "authenticated"  # any valid principal, whatever its role
REFRESH = "refresh-token"  # a valid, unrevoked refresh token (the token refresh route only)
POLICY_ATTR = "__copa_policy__"


@dataclass(frozen=True)
class Principal:
    """The caller of this request, as the database knows it now."""

    kind: str  # "device" (a resident's app install) or "user" (staff and partner users)
    id: uuid.UUID
    roles: frozenset[str]
    session_id: uuid.UUID
    partner_id: uuid.UUID | None = None

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.id}"

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        raise Unauthorized("Sign in first.")
    return principal


def requires(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare who may call the decorated view; refuse everyone else.

    Put it outermost, so a caller without the right is refused before the body is validated.
    """
    if not roles:
        raise ValueError("requires() needs PUBLIC, AUTHENTICATED or at least one role")
    policy = frozenset(roles)
    if len(policy) > 1 and policy & {PUBLIC, AUTHENTICATED, REFRESH}:
        raise ValueError("PUBLIC, AUTHENTICATED and REFRESH stand alone")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if PUBLIC not in policy:
                # Sets g.principal through the revocation check (copa.auth.tokens).
                verify_jwt_in_request(refresh=REFRESH in policy)
                principal = current_principal()
                if policy.isdisjoint({AUTHENTICATED, REFRESH}) and not principal.has_any(policy):
                    raise Forbidden("Your role does not allow this.")
            return view(*args, **kwargs)

        setattr(wrapper, POLICY_ATTR, policy)
        if PUBLIC in policy:
            return _SmorestBlueprint.doc(security=[])(wrapper)
        documented = _SmorestBlueprint.doc(
            security=[{"bearerAuth": []}],
            **{"x-roles": sorted(str(role) for role in policy)},
        )(wrapper)
        setattr(documented, POLICY_ATTR, policy)
        return documented

    return decorator
