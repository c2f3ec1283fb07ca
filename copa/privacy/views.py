from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from copa.extensions import limiter
from copa.privacy import schemas, service, transfer
from copa.web.access import AUTHENTICATED, Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.ratelimit import client_ip, principal_key

blp = Blueprint(
    "privacy",
    __name__,
    url_prefix="/v1/me",
    description="The caller's own data: what is held, erasure, moving to a new phone.",
)


def _limit(setting: str, key_func=client_ip):  # noqa: ANN001
    return limiter.limit(lambda: current_app.config[setting], key_func=key_func)


@blp.route("")
class Me(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(200, schemas.MeOut)
    def get(self):
        """What the service holds about the caller."""
        return service.about_me(current_principal())

    @requires(Role.RESIDENT)
    @blp.response(204)
    def delete(self):
        """Erase the resident's personal data; their submissions stay, anonymised.

        Contact details are deleted and the link from the submissions to this app install is
        removed; every token of the install stops working.
        """
        service.erase_resident(current_principal())


@blp.route("/transfer-codes")
class TransferCodes(MethodView):
    @requires(Role.RESIDENT)
    @_limit("RATELIMIT_TRANSFER_CODES", principal_key)
    @blp.response(201, schemas.TransferCodeOut)
    def post(self):
        """Make a one-time code, on the old phone, for moving to a new one.

        It works once, for COPA_TRANSFER_CODE_MINUTES, and voids any earlier unused code of
        this install. Not idempotent on purpose: a stored answer would keep the code in clear;
        a retry simply makes a new code.
        """
        return transfer.create_transfer_code(current_principal())


@blp.route("/transfer")
class Transfer(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @_limit("RATELIMIT_TRANSFER_REDEEM", principal_key)
    @_limit("RATELIMIT_TRANSFER_REDEEM")
    @blp.arguments(schemas.TransferIn)
    @blp.response(200, schemas.TransferOut)
    def post(self, payload):
        """On the new phone (registered, signed in as itself): take over everything of the
        install that made the code.

        Reports, feedback and complaint cases, votes, contact details, notifications, messages
        and notification preferences move here; the old install is signed out everywhere and
        its device secret stops working. A wrong, expired or used code is a 422.
        """
        return transfer.redeem_transfer_code(current_principal(), payload["code"])
