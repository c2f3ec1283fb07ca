from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from copa.confidence import schemas, service, tallies
from copa.web.access import PUBLIC, Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.pagination import PageQuery, page_of
from copa.web.ratelimit import limit_per_caller

blp = Blueprint(
    "confidence",
    __name__,
    url_prefix="/v1",
    description="The Commissioner's public-confidence counter: app votes and event tallies.",
)

# The question changes only with a new release: clients and proxies may keep it a while.
_PUBLIC_CACHE = {"Cache-Control": "public, max-age=3600"}


@blp.route("/confidence/question")
class Question(MethodView):
    @requires(PUBLIC)
    @blp.response(200, schemas.ConfidenceQuestionOut)
    def get(self):
        """The question residents answer, and its five options in order."""
        return service.get_question(), _PUBLIC_CACHE


@blp.route("/confidence/votes")
class Votes(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_VOTES")
    @blp.arguments(schemas.VoteIn)
    @blp.response(201, schemas.VoteOut)
    def post(self, payload):
        """Answer the question for an area (a ward or local authority code, or a location).

        One vote per resident and quarter counts, whatever area it names: a new vote replaces
        the earlier one (for this or any other area), which is kept in the resident's history
        but no longer counted; the answer's `replaces` names it.
        """
        vote = service.cast_vote(current_principal().id, **payload)
        return vote, {"Location": url_for("confidence.Vote", vote_id=vote.id)}

    @requires(Role.RESIDENT)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(schemas.VoteOut))
    def get(self, query):
        """The resident's own votes, newest first, counted or not."""
        return service.list_votes(current_principal().id, query["page"], query["page_size"])


@blp.route("/confidence/votes/<uuid:vote_id>")
class Vote(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(200, schemas.VoteOut)
    def get(self, vote_id):
        """One of the resident's own votes; 404 for anyone else's."""
        return service.get_vote(current_principal().id, vote_id)


@blp.route("/staff/confidence/tallies")
class Tallies(MethodView):
    @requires(Role.REVIEWER, Role.ANALYST, Role.ADMIN)
    @idempotent
    @blp.arguments(schemas.TallyIn)
    @blp.response(201, schemas.TallyOut)
    def post(self, payload):
        """Enter the counts of a physical counter session at a community event.

        The quarter is the one the event date falls in. Send an Idempotency-Key so that a
        double submission does not count the counters twice.
        """
        return tallies.record_tally(current_principal(), **payload)

    @requires(Role.REVIEWER, Role.ANALYST, Role.ADMIN)
    @blp.arguments(schemas.TallyQuery, location="query")
    @blp.response(200, page_of(schemas.TallyOut))
    def get(self, query):
        """Event tallies, newest event first; filter by area, financial year and quarter."""
        page, page_size = query.pop("page"), query.pop("page_size")
        return tallies.list_tallies(page, page_size, **query)
