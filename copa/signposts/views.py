from __future__ import annotations

from flask import g, redirect, request, url_for
from flask.views import MethodView
from flask_jwt_extended import verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from copa.extensions import limiter
from copa.signposts import schemas, service, signpost_admin
from copa.web.access import PUBLIC, Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.caching import conditional
from copa.web.pagination import page_of
from copa.web.ratelimit import client_ip

blp = Blueprint(
    "signposts",
    __name__,
    url_prefix="/v1/signposts",
    description="Links the app offers to other services, and counting the taps on them.",
)
admin = Blueprint(
    "signposts_admin",
    __name__,
    url_prefix="/v1/admin/signposts",
    description="The signposts the app offers: add, change, reorder, deactivate (admins).",
)
go = Blueprint(
    "go",
    __name__,
    url_prefix="/go",
    description="Counting redirects to signposts, for web pages that link to them.",
)

_LOCATION = {"Location": {"description": "The new resource's URL.", "schema": {"type": "string"}}}


@blp.route("")
class Signposts(MethodView):
    @requires(PUBLIC)
    @conditional(blp, vary="Accept-Language")
    @blp.arguments(schemas.SignpostQuery, location="query")
    @blp.response(200, schemas.SignpostOut(many=True))
    def get(self, query):
        """The active signposts in display order, in the Accept-Language's language where a
        translation exists (else English).

        Narrow them by `topic`, by `area` (a ward or local authority code) or a point
        (`lat`, `lon`; outside Cleveland is 422, as for reports), by report `category` and by
        `feedback_kind`. With an area or point, a council's page is offered only in its own
        area. Cache like categories: revalidate with If-None-Match.
        """
        return service.list_offered(query)


def _tapper() -> str:
    """Rate-limit key of a tap: the device when it sends a valid access token, else the
    address. A stale or revoked token does not refuse the tap: it is limited by address."""
    try:
        verify_jwt_in_request(optional=True)
    except (JWTExtendedException, PyJWTError):
        g.pop("principal", None)
    principal = getattr(g, "principal", None)
    return f"principal:{principal.subject}" if principal else f"ip:{client_ip()}"


@blp.route("/<uuid:signpost_id>/clicks")
class Clicks(MethodView):
    @requires(PUBLIC)
    @limiter.limit(lambda: _setting("RATELIMIT_SIGNPOST_CLICKS_PER_ADDRESS"), key_func=client_ip)
    @limiter.limit(lambda: _setting("RATELIMIT_SIGNPOST_CLICKS"), key_func=_tapper)
    @blp.arguments(schemas.ClickIn)
    @blp.response(201, schemas.ClickOut)
    @blp.alt_response(200, schema=schemas.ClickOut, description="Already counted (a retry).")
    @blp.alt_response(404, response="NOT_FOUND", description="There is no such signpost.")
    @blp.alt_response(409, response="DEFAULT_ERROR", description="Event id used for another.")
    def post(self, payload, signpost_id):
        """Count a tap on a signpost, once per `event_id`, signed in or not.

        Send it when the user taps the link (before or after opening it); if it fails, keep it
        and send it again with the same `event_id` and `clicked_at` when back online. A retry
        answers 200 with `counted: false`. Nothing that identifies the user or the device is stored
        with the count: not the address, not the device, not the resident.
        """
        click = service.record_click(
            signpost_id,
            payload["event_id"],
            clicked_at=payload.get("clicked_at"),
            area=payload.get("area"),
        )
        return click, 201 if click.counted else 200


def _setting(name: str) -> str:
    from flask import current_app

    return current_app.config[name]


# No merging of slashes: Werkzeug would answer /go//evil.example (or /go/%2F%2Fevil.example)
# with a 308 whose Location echoes the request; a redirect here only ever goes to a stored URL.
@go.route("/<string(maxlength=64):code>", merge_slashes=False)
class Go(MethodView):
    @requires(PUBLIC)
    @go.doc(
        responses={
            "302": {
                "description": "To the signpost's own URL (never one taken from the request).",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            "404": {"description": "No active signpost has this code."},
        }
    )
    def get(self, code):
        """Go to a signpost's page, counting the visit (a HEAD is not counted).

        For web pages and emails that link to a signpost. Visits past
        `COPA_RATELIMIT_SIGNPOST_GO_PER_ADDRESS` from one address still go through, uncounted.
        """
        url = service.follow(code, count=request.method == "GET")
        response = redirect(url, 302)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


# --- admins ---------------------------------------------------------------------------------


@admin.route("")
class AdminSignposts(MethodView):
    @requires(Role.ADMIN)
    @admin.arguments(schemas.SignpostIn)
    @admin.response(201, schemas.SignpostAdminOut, headers=_LOCATION)
    def post(self, payload):
        """Add a signpost (offered at the end of the list unless `sort_order` is given)."""
        signpost = signpost_admin.create_signpost(current_principal(), payload)
        return signpost, {
            "Location": url_for("signposts_admin.AdminSignpost", signpost_id=signpost.id)
        }

    @requires(Role.ADMIN)
    @admin.arguments(schemas.SignpostAdminQuery, location="query")
    @admin.response(200, page_of(schemas.SignpostAdminOut))
    def get(self, query):
        """Every signpost, active or not, in display order."""
        return signpost_admin.list_signposts(
            query.get("active"), query.get("topic"), query["page"], query["page_size"]
        )


@admin.route("/order")
class AdminSignpostOrder(MethodView):
    @requires(Role.ADMIN)
    @admin.arguments(schemas.SignpostOrderIn)
    @admin.response(200, schemas.SignpostAdminOut(many=True))
    def put(self, payload):
        """Set the display order: the listed signposts first, in that order, then the rest."""
        return signpost_admin.reorder_signposts(current_principal(), payload["ids"])


@admin.route("/<uuid:signpost_id>")
class AdminSignpost(MethodView):
    @requires(Role.ADMIN)
    @admin.response(200, schemas.SignpostAdminOut)
    def get(self, signpost_id):
        """One signpost with its translations."""
        return signpost_admin.get_signpost(signpost_id)

    @requires(Role.ADMIN)
    @admin.arguments(schemas.SignpostPatchIn)
    @admin.response(200, schemas.SignpostAdminOut)
    def patch(self, changes, signpost_id):
        """Change a signpost; clicks already counted keep the topic and kind they had."""
        return signpost_admin.update_signpost(current_principal(), signpost_id, changes)

    @requires(Role.ADMIN)
    @admin.response(204)
    def delete(self, signpost_id):
        """Deactivate a signpost: no longer offered, its /go/ link 404; its counts stay."""
        signpost_admin.deactivate_signpost(current_principal(), signpost_id)
