from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from copa.outbox import service
from copa.outbox.models import MessageState
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.pagination import PageQuery, page_of

blp = Blueprint(
    "deliveries",
    __name__,
    url_prefix="/v1/staff/deliveries",
    description="Deliveries to partners, and retrying the ones that ran out of attempts (staff).",
)


# The schemas of this one endpoint pair live here (the outbox has no other HTTP surface).
class DeliveryQuery(PageQuery):
    state = fields.String(
        validate=validate.OneOf([str(state) for state in MessageState]),
        metadata={"description": "e.g. dead: out of attempts, waiting for staff."},
    )


class DeliveryAttemptOut(Schema):
    attempted_at = fields.DateTime(required=True)
    duration_ms = fields.Integer(required=True)
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    outcome = fields.String(required=True, metadata={"example": "retry"})


class DeliveryPartnerOut(Schema):
    id = fields.UUID(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class DeliveryOut(Schema):
    id = fields.UUID(required=True, metadata={"description": "Also the webhook-id receivers see."})
    event_type = fields.String(required=True, metadata={"example": "referral.created"})
    channel = fields.String(required=True)
    state = fields.String(required=True)
    partner = fields.Nested(DeliveryPartnerOut, required=True)
    referral_id = fields.UUID(allow_none=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)
    delivery_attempts = fields.List(
        fields.Nested(DeliveryAttemptOut), attribute="attempt_log", required=True
    )


@blp.route("")
class Deliveries(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @blp.arguments(DeliveryQuery, location="query")
    @blp.response(200, page_of(DeliveryOut))
    def get(self, query):
        """Outbox messages to partners, optionally in one state, each with its attempts."""
        return service.list_deliveries(query.get("state"), query["page"], query["page_size"])


@blp.route("/<uuid:message_id>/retry")
class RetryDelivery(MethodView):
    @requires(Role.REVIEWER, Role.ADMIN)
    @blp.response(200, DeliveryOut)
    def post(self, message_id):
        """Try a dead (or cancelled) message again, from the start of the retry schedule."""
        return service.retry_delivery(current_principal(), message_id)
