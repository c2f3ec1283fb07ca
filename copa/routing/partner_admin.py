"""Partners, as admins manage them: their channels (signed webhook, Open311, email), webhook
secrets and their rotation, and the checks that refuse an endpoint copa must never call."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from copa.areas.models import LocalAuthority
from copa.audit.service import Actor, deactivate, record
from copa.catalog.models import Category
from copa.db import db, write
from copa.outbox.signing import new_secret, secret_key
from copa.outbox.ssrf import check_target, loopback_allowed
from copa.routing.models import Channel, Partner
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, Problem, Unprocessable, problem_type

WEBHOOK_SECRET_PREFIX = "whsec_"
MAX_WEBHOOK_SECRETS = 5  # each one signs every delivery: keep rotation short
# The settings of each channel. A setting of another channel is refused, and a change of
# channel clears the old channel's settings, so nothing stale (an old api_key) lingers.
_CHANNEL_SETTINGS: dict[str, frozenset[str]] = {
    Channel.WEBHOOK: frozenset({"endpoint_url"}),
    Channel.OPEN311: frozenset(
        {"endpoint_url", "open311_api_key", "open311_jurisdiction_id", "open311_service_codes"}
    ),
    Channel.EMAIL: frozenset({"email_address"}),
    Channel.NONE: frozenset(),
}
_REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    Channel.WEBHOOK: ("endpoint_url",),
    Channel.OPEN311: ("endpoint_url", "open311_api_key"),
    Channel.EMAIL: ("email_address",),
    Channel.NONE: (),
}
_NO_SETTING: dict[str, object] = {
    "endpoint_url": None,
    "open311_api_key": None,
    "open311_jurisdiction_id": None,
    "open311_service_codes": {},
    "email_address": None,
}
_WEBHOOK_ONLY = ("webhook_secret", "rotate_webhook_secret", "retire_old_webhook_secrets")


class PartnerNotFound(NotFound):
    type = problem_type("partner-not-found")


class PartnerCodeTaken(Conflict):
    type = problem_type("partner-code-taken")


class InvalidPartner(Unprocessable):
    type = problem_type("invalid-partner")


@dataclass(frozen=True)
class SavedPartner:
    """A partner just created or changed, with the signing secret this change generated.

    The secret is shown once, in the answer to the request that made it, and never again.
    """

    partner: Partner
    webhook_secret: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "partner":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.partner, name)


def create_partner(principal: Principal, payload: Mapping[str, Any]) -> SavedPartner:
    """Register a partner organisation and its delivery channel (409 when the code is taken).

    A webhook partner given no secret gets a generated one, returned in this answer only.
    """
    try:
        with write():
            if db.session.scalar(sa.select(Partner.id).where(Partner.code == payload["code"])):
                raise _code_taken()
            partner = Partner(
                id=uuid.uuid4(),
                code=payload["code"],
                channel=Channel.NONE,
                webhook_secrets=[],
                open311_service_codes={},
            )
            secret = _apply_partner_changes(partner, payload, creating=True)
            db.session.add(partner)
            record(
                Actor.of(principal),
                "partner.create",
                "partner",
                partner.id,
                after=_partner_summary(partner),
            )
    except IntegrityError as error:  # a concurrent create took the code first
        raise _code_taken() from error
    return SavedPartner(partner, secret)


def list_partners(active: bool | None, kind: str | None, page: int, page_size: int) -> PageResult:
    """Partners by name, optionally only active (or inactive) ones, or of one kind."""
    statement = sa.select(Partner).order_by(Partner.name, Partner.id)
    if active is not None:
        statement = statement.where(Partner.active.is_(active))
    if kind is not None:
        statement = statement.where(Partner.kind == kind)
    return paginate(statement, page, page_size)


def active_partners() -> list[Partner]:
    """Every active partner by name: those staff may refer a report to."""
    return list(
        db.session.scalars(
            sa.select(Partner).where(Partner.active.is_(True)).order_by(Partner.name, Partner.id)
        )
    )


def get_partner(partner_id: uuid.UUID) -> Partner:
    """One partner; 404 when there is none with that id."""
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        raise PartnerNotFound("No such partner.")
    return partner


def update_partner(
    principal: Principal, partner_id: uuid.UUID, changes: Mapping[str, Any]
) -> SavedPartner:
    """Change a partner's name, state or channel settings; rotate or retire signing secrets.

    A new URL or secret (or ``enable_endpoint``) resumes deliveries to an endpoint disabled
    after a 410 Gone.
    """
    with write():
        partner = get_partner(partner_id)
        old_settings = _partner_summary(partner)
        old_secrets = list(partner.webhook_secrets or [])
        secret = _apply_partner_changes(partner, changes, creating=False)
        before, after = changed_settings(old_settings, _partner_summary(partner))
        if list(partner.webhook_secrets or []) != old_secrets:
            before["webhook_secrets"] = len(old_secrets)
            after["webhook_secrets"] = len(partner.webhook_secrets or [])
            # A new secret (generated or given): which one it is stays out of the log.
            if secret is not None or changes.get("webhook_secret"):
                after["rotated"] = True
        if changes.get("open311_api_key"):  # replaced: the log says so, never what it is
            before["open311_api_key_set"] = old_settings["open311_api_key_set"]
            after["open311_api_key_set"] = True
        record(
            Actor.of(principal), "partner.update", "partner", partner.id, before=before, after=after
        )
    return SavedPartner(partner, secret)


def deactivate_partner(principal: Principal, partner_id: uuid.UUID) -> None:
    """Stop routing to a partner; it keeps its referrals and their history."""
    with write():
        deactivate(Actor.of(principal), "partner", get_partner(partner_id))


def _partner_summary(partner: Partner) -> dict[str, Any]:
    """A partner's settings as the audit log keeps them: secrets only counted or flagged."""
    return {
        "code": partner.code,
        "name": partner.name,
        "kind": partner.kind,
        "local_authority_code": partner.local_authority_code,
        "active": partner.active,
        "channel": partner.channel,
        "endpoint_url": partner.endpoint_url,
        "endpoint_disabled": partner.endpoint_disabled_at is not None,
        "open311_jurisdiction_id": partner.open311_jurisdiction_id,
        "open311_service_codes": dict(partner.open311_service_codes or {}),
        "email_address": partner.email_address,
        "webhook_secrets": len(partner.webhook_secrets or []),
        "open311_api_key_set": bool(partner.open311_api_key),
    }


def changed_settings(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the entries that differ, as (before, after)."""
    names = [name for name in after if before.get(name) != after[name]]
    return {name: before.get(name) for name in names}, {name: after[name] for name in names}


def _code_taken() -> PartnerCodeTaken:
    return PartnerCodeTaken(
        "A partner with this code exists already.",
        errors={"code": ["Already used by another partner."]},
    )


def _apply_partner_changes(
    partner: Partner, data: Mapping[str, Any], *, creating: bool
) -> str | None:
    """Check the partner as it would be after ``data`` and apply it (no commit).

    Raises ``InvalidPartner`` naming every offending field, having changed nothing. Returns
    the webhook secret generated by this change, if any.
    """
    errors: dict[str, list[str]] = {}
    channel = data.get("channel", partner.channel)
    allowed = _CHANNEL_SETTINGS[channel]
    for name in _NO_SETTING:
        if data.get(name) not in (None, {}) and name not in allowed:
            errors[name] = [f"Not a setting of the {channel} channel."]
    for name in _WEBHOOK_ONLY:
        if data.get(name) and channel != Channel.WEBHOOK:
            errors[name] = ["Only for the webhook channel."]

    same_channel = channel == partner.channel and not creating
    settings: dict[str, Any] = {}
    for name, empty in _NO_SETTING.items():
        if name not in allowed:
            value = empty
        elif name in data:
            value = data[name]
        else:  # a channel's old settings carry over only while the channel stays the same
            value = getattr(partner, name) if same_channel else empty
        settings[name] = dict(value) if isinstance(value, Mapping) else value
    for name in _REQUIRED_SETTINGS[channel]:
        if not settings[name]:
            errors.setdefault(name, [f"Required for the {channel} channel."])

    service_codes = settings["open311_service_codes"] or {}
    if "open311_service_codes" in data and service_codes and "open311_service_codes" not in errors:
        known = set(
            db.session.scalars(sa.select(Category.code).where(Category.code.in_(service_codes)))
        )
        unknown = sorted(set(service_codes) - known)
        if unknown:
            errors["open311_service_codes"] = [f"Unknown category codes: {', '.join(unknown)}."]
    authority = data.get("local_authority_code")
    if authority is not None and db.session.get(LocalAuthority, authority) is None:
        errors["local_authority_code"] = ["No local authority with this code."]

    given_secret = data.get("webhook_secret")
    if (
        given_secret is not None
        and "webhook_secret" not in errors
        and not _valid_webhook_secret(given_secret)
    ):
        errors["webhook_secret"] = [
            "Must be whsec_ followed by the base64 of 24 to 64 random bytes."
        ]

    url = settings["endpoint_url"]
    if url and (creating or "endpoint_url" in data) and "endpoint_url" not in errors:
        refused = _endpoint_problems(url)
        if refused:
            errors["endpoint_url"] = refused

    # Signing secrets: every one held signs, so a receiver can move to the new one at leisure.
    generated = None
    held: list[str] = []
    if channel == Channel.WEBHOOK:
        held = list(partner.webhook_secrets or []) if same_channel else []
        if given_secret:
            held = [given_secret]
        if not held or data.get("rotate_webhook_secret"):
            generated = new_secret()
            held.append(generated)
        if data.get("retire_old_webhook_secrets"):
            held = held[-1:]
        if len(held) > MAX_WEBHOOK_SECRETS:
            errors.setdefault("rotate_webhook_secret", []).append(
                f"At most {MAX_WEBHOOK_SECRETS} secrets; retire the old ones first "
                "(retire_old_webhook_secrets)."
            )

    if errors:
        raise InvalidPartner(
            "The partner's settings are not valid: " + ", ".join(sorted(errors)) + ".",
            errors=errors,
        )

    changed_target = settings["endpoint_url"] != partner.endpoint_url or held != list(
        partner.webhook_secrets or []
    )
    if partner.endpoint_disabled_at is not None and (changed_target or data.get("enable_endpoint")):
        partner.endpoint_disabled_at = None
    for name in ("name", "kind", "local_authority_code", "active"):
        if name in data:
            setattr(partner, name, data[name])
    partner.channel = channel
    for name, value in settings.items():
        setattr(partner, name, value)
    partner.webhook_secrets = held  # a new list: the JSON column sees the change
    return generated


def _valid_webhook_secret(secret: str) -> bool:
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        return False
    try:
        key = secret_key(secret)
    except ValueError:
        return False
    return 24 <= len(key) <= 64  # the Standard Webhooks range


def _endpoint_problems(url: str) -> list[str]:
    """Why deliveries may not go to ``url`` (empty when they may): never to a loopback, private,
    link-local or metadata address (loopback only when development allows it), https only
    unless development allows loopback."""
    allow_loopback = loopback_allowed()
    try:
        check_target(url, allow_loopback=allow_loopback)
    except Problem as refused:
        return list((refused.errors or {}).get("endpoint_url") or [refused.detail or "Refused."])
    if urlsplit(url).scheme.lower() != "https" and not allow_loopback:
        return ["Must be an https URL."]
    return []
