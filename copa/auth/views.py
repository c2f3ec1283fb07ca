from __future__ import annotations

from flask import current_app, url_for
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from copa.auth import schemas, service, user_admin
from copa.extensions import limiter
from copa.web.access import AUTHENTICATED, PUBLIC, REFRESH, Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.pagination import page_of
from copa.web.ratelimit import client_ip

blp = Blueprint(
    "auth", __name__, url_prefix="/v1/auth", description="Sign-in for apps, staff and partners."
)


def _limit(setting: str, key_func=client_ip):  # noqa: ANN001
    return limiter.limit(lambda: current_app.config[setting], key_func=key_func)


@blp.route("/devices")
class Devices(MethodView):
    @requires(PUBLIC)
    @_limit("RATELIMIT_DEVICES")
    @blp.arguments(schemas.DeviceIn, required=False)
    @blp.response(201, schemas.DeviceRegisteredOut)
    def post(self, payload):
        """Register a resident's app install; returns its first access and refresh tokens
        and its device secret, shown this once.

        Not idempotent on purpose: a retried registration makes a second, unused device,
        which holds no data; replaying tokens to whoever repeats a key would be worse.
        """
        return service.register_device(**payload)


@blp.route("/devices/<uuid:device_id>/sessions")
class DeviceSessions(MethodView):
    @requires(PUBLIC)
    @_limit("RATELIMIT_DEVICE_SESSIONS")
    @blp.arguments(schemas.DeviceSessionIn)
    @blp.response(201, schemas.DeviceTokensOut)
    def post(self, payload, device_id):
        """Sign an app install in again with its device secret: a new sign-in, with a new
        access and refresh token, for when the refresh token was lost, expired or revoked.

        The install keeps its reports, feedback and votes. A wrong secret, or a device that is
        unknown, erased or moved to a new phone, all get the same 401.
        """
        return service.open_device_session(device_id, payload["device_secret"])


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


users = Blueprint(
    "users",
    __name__,
    url_prefix="/v1/admin/users",
    description="Staff and partner users: create, list, set roles, disable (admin).",
)

_LOCATION = {"Location": {"description": "The new resource's URL.", "schema": {"type": "string"}}}


@users.route("")
class Users(MethodView):
    @requires(Role.ADMIN)
    @users.arguments(schemas.UserIn)
    @users.response(201, schemas.UserOut, headers=_LOCATION)
    def post(self, payload):
        """Add a staff or partner user.

        Roles are staff roles (reviewer, resolution, analyst, admin) or exactly `["partner"]`
        with the user's `partner_id`. The email is stored in lower case; a taken one is a 409.
        """
        user = user_admin.create_user(current_principal(), payload)
        return user, {"Location": url_for("users.UserItem", user_id=user.id)}

    @requires(Role.ADMIN)
    @users.arguments(schemas.UserQuery, location="query")
    @users.response(200, page_of(schemas.UserOut))
    def get(self, query):
        """Users by email, optionally of one role, active or not, of one partner, or whose
        email contains a text."""
        return user_admin.list_users(query)


@users.route("/<uuid:user_id>")
class UserItem(MethodView):
    @requires(Role.ADMIN)
    @users.response(200, schemas.UserOut)
    def get(self, user_id):
        """One user."""
        return user_admin.get_user(user_id)

    @requires(Role.ADMIN)
    @users.arguments(schemas.UserPatchIn)
    @users.response(200, schemas.UserOut)
    def patch(self, changes, user_id):
        """Change a user's name, roles, partner, password, or disable (`active: false`) them.

        Disabling or a new password ends every sign-in of the user at once; role changes apply
        from their next request. A change that would leave no active admin is a 409.
        """
        return user_admin.update_user(current_principal(), user_id, changes)
