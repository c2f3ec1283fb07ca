from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from copa.auth import schemas, service
from copa.extensions import limiter
from copa.web.access import AUTHENTICATED, PUBLIC, REFRESH, current_principal, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "auth", __name__, url_prefix="/v1/auth", description="Sign-in for apps, staff and partners."
)


def _limit(setting: str):
    return limiter.limit(lambda: current_app.config[setting])


@blp.route("/devices")
class Devices(MethodView):
    @requires(PUBLIC)
    @_limit("RATELIMIT_DEVICES")
    @blp.arguments(schemas.DeviceIn, required=False)
    @blp.response(201, schemas.DeviceTokensOut)
    def post(self, payload):
        """Register a resident's app install; returns its first access and refresh tokens.

        Not idempotent on purpose: a retried registration makes a second, unused device,
        which holds no data; replaying tokens to whoever repeats a key would be worse.
        """
        return service.register_device(**payload)


@blp.route("/login")
class Login(MethodView):
    @requires(PUBLIC)
    @_limit("RATELIMIT_LOGIN")
    @blp.arguments(schemas.LoginIn)
    @blp.response(200, schemas.UserTokensOut)
    def post(self, payload):
        """Sign in a staff or partner user (email and password)."""
        return service.login(payload["email"], payload["password"])


@blp.route("/refresh")
class Refresh(MethodView):
    @requires(REFRESH)
    @_limit("RATELIMIT_REFRESH")
    @blp.response(200, schemas.TokensOut)
    def post(self):
        """Spend a refresh token, sent as the bearer token, for a new pair. Each works once.

        Spending one twice revokes every token of that sign-in (RFC 9700 refresh rotation), so
        an app must not refresh from two threads at once.
        """
        return service.refresh(get_jwt())


@blp.route("/logout")
class Logout(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(204)
    def post(self):
        """End this sign-in: its access and refresh tokens stop working at once."""
        service.logout(current_principal())
