from __future__ import annotations

from flask.views import MethodView

from copa.areas import schemas, service
from copa.web.access import PUBLIC, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "areas",
    __name__,
    url_prefix="/v1/areas",
    description="Local authorities and wards of the Cleveland police force area.",
)

# Boundaries change a few times a decade: let clients and proxies keep the list a while.
_PUBLIC_CACHE = {"Cache-Control": "public, max-age=300"}


@blp.route("")
class Areas(MethodView):
    @requires(PUBLIC)
    @blp.response(200, schemas.LocalAuthorityOut(many=True))
    def get(self):
        """The local authorities of the force area, each with its wards."""
        return service.list_authorities(), _PUBLIC_CACHE


@blp.route("/lookup")
class Lookup(MethodView):
    @requires(PUBLIC)
    @blp.arguments(schemas.LookupQuery, location="query")
    @blp.response(200, schemas.LocationOut)
    def get(self, query):
        """The ward and local authority a point falls in; 422 out-of-area outside the force area.

        The response carries area codes only, never the coordinates sent.
        """
        return service.locate(query["lat"], query["lon"])
