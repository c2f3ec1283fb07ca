from __future__ import annotations

import copy

from flask import url_for
from flask.views import MethodView

from copa.reports.schemas import (
    PHOTO_BYTES_RESPONSES,
    POSTER_BYTES_RESPONSES,
    VIDEO_BYTES_RESPONSES,
)
from copa.routing import partner_admin, referrals, rule_admin, schemas
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.pagination import page_of
from copa.web.responses import private_file, private_image

partners = Blueprint(
    "partners",
    __name__,
    url_prefix="/v1/admin/partners",
    description="Partner organisations and how referrals reach them (admins).",
)
routing_rules = Blueprint(
    "routing_rules",
    __name__,
    url_prefix="/v1/admin/routing-rules",
    description="Which partner each report goes to, by category, area and answer (admins).",
)
partner_api = Blueprint(
    "partner_api",
    __name__,
    url_prefix="/v1/partner",
    description="Referrals to the caller's own partner organisation (partner users).",
)

_LOCATION = {"Location": {"description": "The new resource's URL.", "schema": {"type": "string"}}}


# --- partners -----------------------------------------------------------------------------


@partners.route("")
class Partners(MethodView):
    @requires(Role.ADMIN)
    @partners.arguments(schemas.PartnerIn)
    @partners.response(201, schemas.PartnerSavedOut, headers=_LOCATION)
    def post(self, payload):
        """Register a partner and its delivery channel.

        A webhook partner given no `webhook_secret` gets a generated one, in this answer only.
        Endpoint URLs must be https and lead to a public address.
        """
        saved = partner_admin.create_partner(current_principal(), payload)
        return saved, {"Location": url_for("partners.PartnerItem", partner_id=saved.id)}

    @requires(Role.ADMIN)
    @partners.arguments(schemas.PartnerQuery, location="query")
    @partners.response(200, page_of(schemas.PartnerOut))
    def get(self, query):
        """Partners by name, optionally filtered by active and kind."""
        return partner_admin.list_partners(
            query.get("active"), query.get("kind"), query["page"], query["page_size"]
        )


@partners.route("/<uuid:partner_id>")
class PartnerItem(MethodView):
    @requires(Role.ADMIN)
    @partners.response(200, schemas.PartnerOut)
    def get(self, partner_id):
        """One partner (its secrets are never shown)."""
        return partner_admin.get_partner(partner_id)

    @requires(Role.ADMIN)
    @partners.arguments(schemas.PartnerPatchIn)
    @partners.response(200, schemas.PartnerSavedOut)
    def patch(self, changes, partner_id):
        """Change a partner; `rotate_webhook_secret` adds a secret, returned in this answer only."""
        return partner_admin.update_partner(current_principal(), partner_id, changes)

    @requires(Role.ADMIN)
    @partners.response(204)
    def delete(self, partner_id):
        """Deactivate a partner: no more routing to it; its referrals and history stay."""
        partner_admin.deactivate_partner(current_principal(), partner_id)


# --- routing rules ------------------------------------------------------------------------


@routing_rules.route("")
class RoutingRules(MethodView):
    @requires(Role.ADMIN)
    @routing_rules.arguments(schemas.RoutingRuleIn)
    @routing_rules.response(201, schemas.RoutingRuleOut, headers=_LOCATION)
    def post(self, payload):
        """Add a rule. A rule on an answer beats one without; ward beats authority beats any."""
        rule = rule_admin.create_rule(current_principal(), payload)
        return rule, {"Location": url_for("routing_rules.RoutingRuleItem", rule_id=rule.id)}

    @requires(Role.ADMIN)
    @routing_rules.arguments(schemas.RoutingRuleQuery, location="query")
    @routing_rules.response(200, page_of(schemas.RoutingRuleOut))
    def get(self, query):
        """Routing rules, optionally of one category or partner, active or not."""
        return rule_admin.list_rules(
            query.get("category_code"),
            query.get("partner_id"),
            query.get("active"),
            query["page"],
            query["page_size"],
        )


@routing_rules.route("/test")
class RoutingTest(MethodView):
    @requires(Role.ADMIN)
    @routing_rules.arguments(schemas.RoutingTestIn)
    @routing_rules.response(200, schemas.RoutingTestOut)
    def post(self, payload):
        """Where a report would go, and by which rule: routing's own decision, nothing saved.

        Give a `location` or an `area_code` (or neither, for a report with no location).
        """
        return rule_admin.try_route(
            payload["category_code"],
            point=payload.get("location"),
            area_code=payload.get("area_code"),
            answers=payload["answers"],
        )


@routing_rules.route("/<uuid:rule_id>")
class RoutingRuleItem(MethodView):
    @requires(Role.ADMIN)
    @routing_rules.response(200, schemas.RoutingRuleOut)
    def get(self, rule_id):
        """One routing rule."""
        return rule_admin.get_rule(rule_id)

    @requires(Role.ADMIN)
    @routing_rules.arguments(schemas.RoutingRulePatchIn)
    @routing_rules.response(200, schemas.RoutingRuleOut)
    def patch(self, changes, rule_id):
        """Change a routing rule; the changed rule must be valid as a whole."""
        return rule_admin.update_rule(current_principal(), rule_id, changes)

    @requires(Role.ADMIN)
    @routing_rules.response(204)
    def delete(self, rule_id):
        """Deactivate a routing rule (it stays listed, inactive)."""
        rule_admin.deactivate_rule(current_principal(), rule_id)


# --- the partner API ----------------------------------------------------------------------


@partner_api.route("/referrals")
class PartnerReferrals(MethodView):
    @requires(Role.PARTNER)
    @partner_api.arguments(schemas.ReferralQuery, location="query")
    @partner_api.response(200, page_of(schemas.PartnerReferralSummaryOut))
    def get(self, query):
        """Referrals to the caller's organisation, newest first, optionally in one state."""
        return referrals.partner_referrals(
            current_principal(), query.get("state"), query["page"], query["page_size"]
        )


@partner_api.route("/referrals/<uuid:referral_id>")
class PartnerReferral(MethodView):
    @requires(Role.PARTNER)
    @partner_api.response(200, schemas.PartnerReferralOut)
    def get(self, referral_id):
        """What the partner needs to act; the resident's contact only if they agreed to share it."""
        return referrals.partner_referral(current_principal(), referral_id)


@partner_api.route("/photos/<uuid:photo_id>")
class PartnerPhoto(MethodView):
    @requires(Role.PARTNER)
    @partner_api.doc(responses=copy.deepcopy(PHOTO_BYTES_RESPONSES))
    def get(self, photo_id):
        """A photo of a report referred to the caller's organisation (re-encoded, no metadata)."""
        photo = referrals.referral_photo(current_principal(), photo_id)
        return private_image(photo.data, photo.content_type)


@partner_api.route("/videos/<uuid:video_id>")
class PartnerVideo(MethodView):
    @requires(Role.PARTNER)
    @partner_api.doc(responses=copy.deepcopy(VIDEO_BYTES_RESPONSES))
    def get(self, video_id):
        """A video of a report referred to the caller's organisation (re-encoded, no metadata;
        409 while still processing)."""
        found = referrals.referral_video(current_principal(), video_id)
        return private_file(found.source, found.content_type)


@partner_api.route("/videos/<uuid:video_id>/poster")
class PartnerVideoPoster(MethodView):
    @requires(Role.PARTNER)
    @partner_api.doc(responses=copy.deepcopy(POSTER_BYTES_RESPONSES))
    def get(self, video_id):
        """The poster (first picture) of a video of a report referred to the caller's
        organisation."""
        found = referrals.referral_video(current_principal(), video_id, poster=True)
        return private_file(found.source, found.content_type)


@partner_api.route("/referrals/<uuid:referral_id>/acknowledge")
class AcknowledgeReferral(MethodView):
    @requires(Role.PARTNER)
    @partner_api.arguments(schemas.ReferralAcknowledgeIn, required=False)
    @partner_api.response(200, schemas.PartnerReferralOut)
    def post(self, payload, referral_id):
        """Confirm receipt; the report becomes acknowledged. Safe to repeat.

        The body is optional: `external_reference` records the partner's own reference.
        """
        return referrals.acknowledge_referral(current_principal(), referral_id, payload)


@partner_api.route("/referrals/<uuid:referral_id>/updates")
class ReferralUpdates(MethodView):
    @requires(Role.PARTNER)
    @idempotent
    @partner_api.arguments(schemas.ReferralUpdateIn)
    @partner_api.response(200, schemas.PartnerReferralOut)
    def post(self, payload, referral_id):
        """Report progress: in_progress, resolved, or not_our_responsibility.

        The public note goes on the resident's timeline. Not our responsibility sends the
        report back to OPCC staff to route again. Safe to retry with an Idempotency-Key.
        """
        return referrals.update_referral(current_principal(), referral_id, payload)
