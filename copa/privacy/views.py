from __future__ import annotations

from flask.views import MethodView

from copa.privacy import schemas, service
from copa.web.access import AUTHENTICATED, Role, current_principal, requires
from copa.web.blueprint import Blueprint

blp = Blueprint("privacy", __name__, url_prefix="/v1/me", description="The caller's own data.")


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
