from __future__ import annotations

import copy
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask.views import MethodView

from copa.catalog import schemas, service
from copa.web.access import PUBLIC, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "catalog",
    __name__,
    url_prefix="/v1/categories",
    description="The kinds of report a resident can make, and their extra questions.",
)

# Categories change rarely and apps fetch them often: a cache may keep them five minutes, then
# revalidate with If-None-Match and get an empty 304 when nothing changed.
_MAX_AGE = 300
_CONDITIONAL_DOC = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The ETag of a copy already held: 304 if it is still current.",
            "schema": {"type": "string"},
        }
    ],
    "responses": {
        200: {
            "headers": {
                "ETag": {
                    "description": "Strong validator: a hash of this representation.",
                    "schema": {"type": "string"},
                },
                "Cache-Control": {
                    "description": f"public, max-age={_MAX_AGE}",
                    "schema": {"type": "string"},
                },
            }
        },
        304: {
            "description": "Not Modified: the copy named in If-None-Match is current (no body).",
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}},
            },
        },
    },
}


def conditional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Give the response a strong ETag and a public max-age; 304 on a matching If-None-Match."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        response = view(*args, **kwargs)
        response.cache_control.public = True
        response.cache_control.max_age = _MAX_AGE
        response.add_etag()  # SHA-1 of the body: the same representation, the same tag
        # RFC 9110: If-None-Match uses the weak comparison; a 304 keeps ETag and Cache-Control.
        return response.make_conditional(request)

    return blp.doc(**copy.deepcopy(_CONDITIONAL_DOC))(wrapper)


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
