from __future__ import annotations

from flask.views import MethodView

from copa.catalog import schemas, service
from copa.web.access import PUBLIC, requires
from copa.web.blueprint import Blueprint
from copa.web.caching import conditional as conditional_on

blp = Blueprint(
    "catalog",
    __name__,
    url_prefix="/v1/categories",
    description="The kinds of report a resident can make, and their extra questions.",
)

# Categories change rarely and apps fetch them often: a cache may keep them five minutes, then
# revalidate with If-None-Match and get an empty 304 when nothing changed.
conditional = conditional_on(blp)


@blp.route("")
class Categories(MethodView):
    @requires(PUBLIC)
    @conditional
    @blp.response(200, schemas.CategoryOut(many=True))
    def get(self):
        """The categories a resident can report under, in display order, with their questions."""
        return service.list_categories()


@blp.route("/<string(maxlength=64):code>")
class CategoryByCode(MethodView):
    @requires(PUBLIC)
    @conditional
    @blp.response(200, schemas.CategoryOut)
    @blp.alt_response(404, response="NOT_FOUND", description="No active category has this code.")
    def get(self, code):
        """One category by its code; 404 when there is none or it is no longer offered."""
        return service.get_category(code)
