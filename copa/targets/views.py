from __future__ import annotations

from flask.views import MethodView

from copa.targets import schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "targets",
    __name__,
    url_prefix="/v1/admin/targets",
    description="Targets for the first action on a report, complaint first contact and "
    "referral acknowledgement (admins).",
)


@blp.route("")
class Targets(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, schemas.TargetsOut)
    def get(self):
        """The targets in force, with every category's first-action target (its own or the
        default).

        First action on a report: the earliest status change by staff or a partner, partner
        acknowledgement of a referral, or staff message to the resident; system routing,
        assignment and internal notes do not count.
        """
        return service.targets_shown()

    @requires(Role.ADMIN)
    @blp.arguments(schemas.TargetsIn)
    @blp.response(200, schemas.TargetsOut)
    def put(self, payload):
        """Replace every target (idempotent: the same body twice changes nothing more).

        A category not in `category_hours` has the default. Changing a target moves the due
        time of everything still waiting. Audited as `targets.update`.
        """
        return service.set_targets(current_principal(), payload)
