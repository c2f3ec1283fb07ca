from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from copa.feedback import schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.pagination import PageQuery, page_of
from copa.web.ratelimit import limit_per_caller

blp = Blueprint(
    "feedback",
    __name__,
    url_prefix="/v1",
    description="Residents' compliments, suggestions and complaints (dissatisfaction).",
)

_LOCATION = {"Location": {"description": "The new feedback's URL.", "schema": {"type": "string"}}}


@blp.route("/feedback")
class FeedbackCollection(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_FEEDBACK")
    @blp.arguments(schemas.FeedbackIn)
    @blp.response(201, schemas.FeedbackOut, headers=_LOCATION)
    def post(self, payload):
        """Give a compliment, a suggestion or an expression of dissatisfaction.

        Dissatisfaction is logged as a complaint for the Resolution Team. Text that suggests an
        emergency is still accepted, and the answer carries advice to call 999.
        """
        feedback = service.submit_feedback(current_principal(), payload)
        location = url_for("feedback.FeedbackItem", feedback_id=feedback.id)
        return feedback, {"Location": location}

    @requires(Role.RESIDENT)
    # As in areas' lookup: webargs would drop unknown query parameters; refuse them instead.
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(schemas.FeedbackOut))
    def get(self, query):
        """The resident's own feedback, newest first."""
        return service.list_feedback(current_principal(), query["page"], query["page_size"])


@blp.route("/feedback/<uuid:feedback_id>")
class FeedbackItem(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(200, schemas.FeedbackOut)
    def get(self, feedback_id):
        """One of the resident's own feedback; 404 for anyone else's."""
        return service.get_feedback(current_principal(), feedback_id)
