from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from copa.catalog import category_admin, schemas, service
from copa.web.access import PUBLIC, Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.caching import conditional as conditional_on
from copa.web.idempotency import idempotent
from copa.web.pagination import page_of

blp = Blueprint(
    "catalog",
    __name__,
    url_prefix="/v1/categories",
    description="The kinds of report a resident can make, and their extra questions.",
)
admin = Blueprint(
    "catalog_admin",
    __name__,
    url_prefix="/v1/admin/categories",
    description="The categories and their extra questions: add, change, deactivate (admins).",
)

_LOCATION = {"Location": {"description": "The new resource's URL.", "schema": {"type": "string"}}}

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


# --- admins ---------------------------------------------------------------------------------


@admin.route("")
class AdminCategories(MethodView):
    @requires(Role.ADMIN)
    @idempotent
    @admin.arguments(schemas.CategoryIn)
    @admin.response(201, schemas.CategoryAdminOut, headers=_LOCATION)
    @admin.alt_response(409, response="DEFAULT_ERROR", description="The code is taken.")
    def post(self, payload):
        """Add a category with its extra questions (offered at the end unless `sort_order`).

        Residents' apps see it on their next fetch of /v1/categories (its ETag changes).
        """
        category = category_admin.create_category(current_principal(), payload)
        return category, {"Location": url_for("catalog_admin.AdminCategory", code=category.code)}

    @requires(Role.ADMIN)
    @admin.arguments(schemas.CategoryAdminQuery, location="query")
    @admin.response(200, page_of(schemas.CategoryAdminOut))
    def get(self, query):
        """Every category, offered or not, in display order."""
        return category_admin.list_categories(
            query.get("active"), query["page"], query["page_size"]
        )


@admin.route("/<string(maxlength=64):code>")
class AdminCategory(MethodView):
    @requires(Role.ADMIN)
    @admin.response(200, schemas.CategoryAdminOut)
    @admin.alt_response(404, response="NOT_FOUND", description="No category has this code.")
    def get(self, code):
        """One category, offered or not, with its questions."""
        return category_admin.get_category(code)

    @requires(Role.ADMIN)
    @admin.arguments(schemas.CategoryPatchIn)
    @admin.response(200, schemas.CategoryAdminOut)
    @admin.alt_response(404, response="NOT_FOUND", description="No category has this code.")
    def patch(self, changes, code):
        """Change a category; `questions`, when sent, replace its questions as a whole.

        Reports already made keep showing the questions and choices they were asked.
        """
        return category_admin.update_category(current_principal(), code, changes)

    @requires(Role.ADMIN)
    @admin.response(204)
    @admin.alt_response(404, response="NOT_FOUND", description="No category has this code.")
    def delete(self, code):
        """Deactivate a category: no longer offered for new reports; its reports stay.

        PATCH `active: true` offers it again.
        """
        category_admin.deactivate_category(current_principal(), code)
