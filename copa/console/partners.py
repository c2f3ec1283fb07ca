"""Console pages of the partner organisations (admins only): list, view, add, change and
deactivate, over the services of /v1/admin/partners.

A webhook signing secret is shown once, on the page that answers the form which made it (a new
partner, a rotation, a change to the webhook channel), and never again: later pages say how many
secrets are held, not what they are. So the forms that may make one carry no idempotency key:
a stored answer would keep the secret in the database (the API's partner routes are not
idempotent either). A repeated add is refused by the partner's unique code.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError

from copa.areas import service as areas
from copa.catalog import category_admin
from copa.console.pages import blp, console_page, load_form, page
from copa.db import abandon
from copa.routing import partner_admin, rule_admin
from copa.routing import schemas as routing_schemas
from copa.routing.models import Channel, PartnerKind
from copa.web.access import Role
from copa.web.problems import Problem, flatten_messages

PARTNERS = (Role.ADMIN,)  # as /v1/admin/partners
KINDS = (
    (PartnerKind.COUNCIL, "Council"),
    (PartnerKind.HOUSING_PROVIDER, "Housing provider"),
    (PartnerKind.HEALTH_AND_SOCIAL_CARE, "Health and social care"),
    (PartnerKind.ENVIRONMENT_AGENCY, "Environment agency"),
    (PartnerKind.POLICE, "The force control room"),
    (PartnerKind.OPCC, "The OPCC"),
)
CHANNELS = (
    (Channel.NONE, "None: the partner reads its referrals through the partner API"),
    (Channel.WEBHOOK, "Signed webhook"),
    (Channel.OPEN311, "Open311 (GeoReport v2)"),
    (Channel.EMAIL, "Email"),
)
_LABELS = {
    "code": "Partner code",
    "name": "Name",
    "kind": "Kind",
    "local_authority_code": "Local authority",
    "channel": "Channel",
    "endpoint_url": "Endpoint URL",
    "open311_api_key": "Open311 api_key",
    "open311_jurisdiction_id": "Open311 jurisdiction_id",
    "open311_service_codes": "Open311 service codes",
    "email_address": "Email address",
    "webhook_secret": "Webhook signing secret",
    "rotate_webhook_secret": "New signing secret",
    "retire_old_webhook_secrets": "Retire old secrets",
    "enable_endpoint": "Resume deliveries",
}
_TICKS = ("rotate_webhook_secret", "retire_old_webhook_secrets", "enable_endpoint")
_TEXTS = (
    "code",
    "name",
    "kind",
    "local_authority_code",
    "channel",
    "endpoint_url",
    "open311_api_key",
    "open311_jurisdiction_id",
    "email_address",
    "webhook_secret",
)


def _service_codes(text: str) -> dict[str, str] | str:
    """'category = service_code' lines as the API's mapping; the text back when a line has
    no '=' (for the schema to refuse)."""
    codes: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        category, equals, code = line.partition("=")
        if not equals:
            return text
        codes[category.strip()] = code.strip()
    return codes


def _payload(form: Mapping[str, str], *, creating: bool) -> dict[str, Any]:
    """The form as the API's JSON. On a change, an empty field clears its setting, except a
    secret or api_key, where empty means keep the one held."""
    data: dict[str, Any] = {name: form.get(name, "").strip() for name in _TEXTS if name in form}
    if not creating:
        data.pop("code", None)
        for name in ("local_authority_code", "open311_jurisdiction_id"):
            if name in data and not data[name]:
                data[name] = None
    data = {k: v for k, v in data.items() if v != ""}
    if "open311_service_codes" in form:
        codes = _service_codes(form["open311_service_codes"])
        if codes or not creating:
            data["open311_service_codes"] = codes
    for name in _TICKS:
        if form.get(name) == "yes":
            data[name] = True
    channel = data.get("channel")
    # Settings of the other channels stay in the form (kept on a refusal) but are not sent.
    keep = {
        Channel.WEBHOOK: {"endpoint_url", "webhook_secret", *_TICKS},
        Channel.OPEN311: {
            "endpoint_url",
            "open311_api_key",
            "open311_jurisdiction_id",
            "open311_service_codes",
            "enable_endpoint",
        },
        Channel.EMAIL: {"email_address"},
    }.get(channel, set())
    channel_fields = {
        "endpoint_url",
        "webhook_secret",
        "open311_api_key",
        "open311_jurisdiction_id",
        "open311_service_codes",
        "email_address",
        *_TICKS,
    }
    return {k: v for k, v in data.items() if k not in channel_fields or k in keep}


def _form_of(partner: Any) -> dict[str, str]:
    return {
        "code": partner.code,
        "name": partner.name,
        "kind": partner.kind,
        "local_authority_code": partner.local_authority_code or "",
        "channel": partner.channel,
        "endpoint_url": partner.endpoint_url or "",
        "open311_jurisdiction_id": partner.open311_jurisdiction_id or "",
        "open311_service_codes": "\n".join(
            f"{category} = {code}"
            for category, code in sorted((partner.open311_service_codes or {}).items())
        ),
        "email_address": partner.email_address or "",
    }


def _errors(messages: Mapping[str, list[str]]) -> list[dict[str, str]]:
    shown = []
    for key, texts in messages.items():
        name = key.split(".")[0]
        target = name if name in _LABELS else ""
        shown.append(
            {
                "key": target,
                "target": target,
                "label": _LABELS.get(name, "The partner"),
                "text": " ".join(texts),
            }
        )
    return shown


def _partner_page(status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()  # a refused change leaves nothing behind, nor any lock held
    context.setdefault("errors", [])
    context.setdefault("form", {})
    context.setdefault("partner", None)
    context.setdefault("secret", None)
    partner = context["partner"]
    rules = []
    if partner is not None:
        rules = rule_admin.list_rules(None, partner.id, None, 1, 1000).items
    return page(
        "console/partner.html",
        status,
        kinds=KINDS,
        kind_words=dict(KINDS),
        channels=CHANNELS,
        channel_words={value: label.split(":")[0] for value, label in CHANNELS},
        authorities=areas.list_authorities(),
        categories={c.code: c.name for c in category_admin.list_categories(None, 1, 1000).items},
        rules=rules,
        invalid={error["key"] for error in context["errors"]},
        **context,
    )


def _refused(error: Exception) -> list[dict[str, str]] | None:
    if isinstance(error, ValidationError):
        return _errors(flatten_messages(error.messages))
    if isinstance(error, Problem) and error.status in (409, 422):
        return _errors(error.errors or {"_body": [error.detail or error.title]})
    return None


@blp.route("/partners")
@console_page(*PARTNERS)
def partners():
    """Every partner by name, active or not (GET /v1/admin/partners)."""
    listed = partner_admin.list_partners(None, None, 1, 1000).items
    return page(
        "console/partners.html",
        partners=listed,
        kind_words=dict(KINDS),
        channel_words={value: label.split(":")[0] for value, label in CHANNELS},
    )


@blp.route("/partners/new")
@console_page(*PARTNERS)
def partner_new():
    return _partner_page(form={"channel": Channel.NONE}, editing=True)


@blp.route("/partners", methods=["POST"])
@console_page(*PARTNERS)
def partner_create():
    """Add a partner (POST /v1/admin/partners); a generated signing secret is shown on this
    answer only."""
    form = request.form.to_dict()
    try:
        payload = load_form(routing_schemas.PartnerIn(), _payload(form, creating=True))
        saved = partner_admin.create_partner(g.principal, payload)
    except (ValidationError, Problem) as error:
        errors = _refused(error)
        if errors is None:
            raise
        form.pop("webhook_secret", None)  # a secret is never written back into a page
        form.pop("open311_api_key", None)
        return _partner_page(422, form=form, errors=errors, editing=True)
    return _saved(saved, 201, f"Added {saved.partner.name}.")


def _saved(saved: Any, status: int, done: str) -> tuple[str, int]:
    partner = saved.partner
    return _partner_page(
        status, partner=partner, form=_form_of(partner), secret=saved.webhook_secret, done=done
    )


@blp.route("/partners/<uuid:partner_id>")
@console_page(*PARTNERS)
def partner(partner_id: uuid.UUID):
    """One partner and its channel (GET /v1/admin/partners/{id}); its secrets are never shown."""
    found = partner_admin.get_partner(partner_id)
    return _partner_page(partner=found, form=_form_of(found))


@blp.route("/partners/<uuid:partner_id>", methods=["POST"])
@console_page(*PARTNERS)
def partner_update(partner_id: uuid.UUID):
    """Change a partner (PATCH /v1/admin/partners/{id}); a new signing secret is shown on this
    answer only."""
    found = partner_admin.get_partner(partner_id)
    form = request.form.to_dict()
    try:
        changes = load_form(routing_schemas.PartnerPatchIn(), _payload(form, creating=False))
        saved = partner_admin.update_partner(g.principal, partner_id, changes)
    except (ValidationError, Problem) as error:
        errors = _refused(error)
        if errors is None:
            raise
        form.pop("webhook_secret", None)
        form.pop("open311_api_key", None)
        form["code"] = found.code
        return _partner_page(422, partner=found, form=form, errors=errors, editing=True)
    if saved.webhook_secret is None:
        flash(f"Saved {saved.partner.name}.")
        return redirect(url_for("console.partner", partner_id=partner_id), 303)
    return _saved(saved, 200, f"Saved {saved.partner.name}.")


@blp.route("/partners/<uuid:partner_id>/deactivate", methods=["POST"])
@console_page(*PARTNERS)
def partner_deactivate(partner_id: uuid.UUID):
    """Stop routing to a partner (DELETE /v1/admin/partners/{id}); its referrals stay."""
    found = partner_admin.get_partner(partner_id)
    partner_admin.deactivate_partner(g.principal, partner_id)
    flash(
        f"{found.name} is inactive: no report is routed to it; its rules are not used "
        "until it is active again."
    )
    return redirect(url_for("console.partner", partner_id=partner_id), 303)


@blp.route("/partners/<uuid:partner_id>/reactivate", methods=["POST"])
@console_page(*PARTNERS)
def partner_reactivate(partner_id: uuid.UUID):
    """Route to a partner again (PATCH /v1/admin/partners/{id} active: true)."""
    saved = partner_admin.update_partner(g.principal, partner_id, {"active": True})
    flash(f"{saved.partner.name} is active again.")
    return redirect(url_for("console.partner", partner_id=partner_id), 303)
