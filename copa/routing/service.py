"""Where every report goes: routing rules choose the partner; a referral and its outbox
message are written in the submission's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from copa.areas.models import LocalAuthority, Ward
from copa.audit.service import SYSTEM, Actor, record
from copa.catalog.models import Category
from copa.catalog.service import questions_of
from copa.db import begin_write, db, utcnow
from copa.notifications.messages import passed_on_messages
from copa.notifications.models import ResidentMessage
from copa.outbox.service import enqueue_referral
from copa.outbox.signing import new_secret, secret_key
from copa.outbox.ssrf import check_target, loopback_allowed
from copa.reports.models import Photo, Report, ReportStatus
from copa.review.workflow import transition
from copa.routing.models import Channel, Partner, PartnerKind, Referral, ReferralState, RoutingRule
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, Problem, Unprocessable, problem_type

_AREA_RANK = {"ward": 2, "local_authority": 1, "any": 0}
UNROUTED_KIND = "unrouted"
UNROUTED_NAME = "OPCC staff, who will decide where it goes"


def choose_rule(
    category_code: str,
    ward_code: str | None,
    local_authority_code: str | None,
    answers: Mapping[str, object],
) -> RoutingRule | None:
    """The rule for a report: one whose answer condition matches beats one without; then
    ward beats local authority beats any area. None when nothing matches."""
    rules = db.session.scalars(
        sa.select(RoutingRule)
        .join(Partner, RoutingRule.partner_id == Partner.id)
        .where(
            RoutingRule.category_code == category_code,
            RoutingRule.active.is_(True),
            Partner.active.is_(True),
        )
        .order_by(RoutingRule.created_at, RoutingRule.id)
    ).all()
    area_of_level = {"ward": ward_code, "local_authority": local_authority_code}

    def matches(rule: RoutingRule) -> bool:
        if rule.area_level != "any" and rule.area_code != area_of_level.get(rule.area_level):
            return False
        if rule.answer_code is None:
            return True
        answer = answers.get(rule.answer_code)
        return answer == rule.answer_value or (
            isinstance(answer, list) and rule.answer_value in answer
        )

    matching = [rule for rule in rules if matches(rule)]
    if not matching:
        return None
    return max(matching, key=lambda r: (r.answer_code is not None, _AREA_RANK[r.area_level]))


def route(report: Report, actor: Actor = SYSTEM) -> Referral | None:
    """Send a report where its rules say (part of the caller's transaction).

    A referral and, when the partner has a delivery channel, its outbox message are written;
    the report becomes ``routed``. When no rule matches it stays ``received``, flagged
    ``unrouted`` for staff: a report is never dropped.
    """
    rule = choose_rule(
        report.category.code, report.ward_code, report.local_authority_code, report.answers
    )
    if rule is None:
        report.unrouted = True
        report.destination_kind, report.destination_name = UNROUTED_KIND, UNROUTED_NAME
        return None
    return refer(report, rule.partner, actor, outcome=provisional_outcome(rule.partner))


def provisional_outcome(partner: Partner) -> str:
    """The outcome a report routed to ``partner`` has until someone decides otherwise: every
    report that has gone somewhere has one (review/workflow.py REPORT_OUTCOMES)."""
    if partner.kind == PartnerKind.POLICE:
        return "passed_to_force_control_room"
    if partner.kind == PartnerKind.OPCC:
        return "with_opcc"
    return "referred_to_partner"


def routed_note(partner: Partner) -> str:
    """What the resident reads when their report is routed: nothing claims a delivery that
    has not happened (the relay delivers later; a partner with no channel reads its referrals
    through the partner API at once)."""
    if partner.channel == Channel.NONE:
        return f"Passed to {partner.name}."
    return f"Being passed to {partner.name}."


def refer(
    report: Report,
    partner: Partner,
    actor: Actor,
    *,
    outcome: str | None = None,
    public_note: str | None = None,
    internal_note: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Referral:
    """Refer a report to a partner: the referral, its outbox message, the status change
    (``details`` go into its audit event)."""
    referral = Referral(id=uuid.uuid4(), report=report, report_id=report.id, partner=partner)
    db.session.add(referral)
    enqueue_referral(referral)
    report.unrouted = False
    report.delivery_failed = False  # a failed delivery elsewhere no longer holds it up
    report.destination_kind, report.destination_name = partner.kind, partner.name
    transition(
        report,
        ReportStatus.ROUTED,
        actor,
        outcome=outcome,
        public_note=public_note or routed_note(partner),
        internal_note=internal_note,
        details={"referral_id": referral.id, "partner": partner.code, **(details or {})},
    )
    return referral


# --- partners (admin) ---------------------------------------------------------------------

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
    begin_write()
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
    try:
        db.session.commit()
    except IntegrityError as error:  # a concurrent create took the code first
        db.session.rollback()
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
    begin_write()
    partner = get_partner(partner_id)
    old_settings = _partner_summary(partner)
    old_secrets = list(partner.webhook_secrets or [])
    secret = _apply_partner_changes(partner, changes, creating=False)
    before, after = _changed(old_settings, _partner_summary(partner))
    if list(partner.webhook_secrets or []) != old_secrets:
        before["webhook_secrets"] = len(old_secrets)
        after["webhook_secrets"] = len(partner.webhook_secrets or [])
        # A new secret (generated or given): which one it is stays out of the log.
        if secret is not None or changes.get("webhook_secret"):
            after["rotated"] = True
    if changes.get("open311_api_key"):  # replaced: the log says so, never what it is
        before["open311_api_key_set"] = old_settings["open311_api_key_set"]
        after["open311_api_key_set"] = True
    record(Actor.of(principal), "partner.update", "partner", partner.id, before=before, after=after)
    db.session.commit()
    return SavedPartner(partner, secret)


def deactivate_partner(principal: Principal, partner_id: uuid.UUID) -> None:
    """Stop routing to a partner; it keeps its referrals and their history."""
    begin_write()
    partner = get_partner(partner_id)
    before = {"active": partner.active}
    partner.active = False
    record(
        Actor.of(principal),
        "partner.deactivate",
        "partner",
        partner.id,
        before=before,
        after={"active": False},
    )
    db.session.commit()


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


def _changed(
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


# --- routing rules (admin) ----------------------------------------------------------------


class RoutingRuleNotFound(NotFound):
    type = problem_type("routing-rule-not-found")


class InvalidRoutingRule(Unprocessable):
    type = problem_type("invalid-routing-rule")


_RULE_FIELDS = (
    "category_code",
    "area_level",
    "area_code",
    "answer_code",
    "answer_value",
    "partner_id",
    "active",
)


def create_rule(principal: Principal, payload: Mapping[str, Any]) -> RoutingRule:
    """Add a routing rule: category x area (x one answer) -> an active partner."""
    begin_write()
    values = {"area_code": None, "answer_code": None, "answer_value": None, **payload}
    partner = _check_rule(values)
    rule = RoutingRule(id=uuid.uuid4(), partner=partner, **values)
    db.session.add(rule)
    record(
        Actor.of(principal),
        "routing_rule.create",
        "routing_rule",
        rule.id,
        after=_rule_summary(rule),
    )
    db.session.commit()
    return rule


def list_rules(
    category_code: str | None,
    partner_id: uuid.UUID | None,
    active: bool | None,
    page: int,
    page_size: int,
) -> PageResult:
    """Routing rules by category, optionally of one category or partner, active or not."""
    statement = sa.select(RoutingRule).order_by(
        RoutingRule.category_code, RoutingRule.created_at, RoutingRule.id
    )
    if category_code is not None:
        statement = statement.where(RoutingRule.category_code == category_code)
    if partner_id is not None:
        statement = statement.where(RoutingRule.partner_id == partner_id)
    if active is not None:
        statement = statement.where(RoutingRule.active.is_(active))
    return paginate(statement, page, page_size)


def get_rule(rule_id: uuid.UUID) -> RoutingRule:
    """One routing rule; 404 when there is none with that id."""
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None:
        raise RoutingRuleNotFound("No such routing rule.")
    return rule


def update_rule(
    principal: Principal, rule_id: uuid.UUID, changes: Mapping[str, Any]
) -> RoutingRule:
    """Change a routing rule; the rule as changed must be valid as a whole."""
    begin_write()
    rule = get_rule(rule_id)
    values = {name: getattr(rule, name) for name in _RULE_FIELDS}
    values.update(changes)
    if changes.get("area_level") == "any" and "area_code" not in changes:
        values["area_code"] = None  # "any area" needs no code: drop the old one
    partner = _check_rule(values, current_partner_id=rule.partner_id)
    old = _rule_summary(rule)
    for name in _RULE_FIELDS:
        setattr(rule, name, values[name])
    rule.partner = partner
    before, after = _changed(old, _rule_summary(rule))
    record(
        Actor.of(principal),
        "routing_rule.update",
        "routing_rule",
        rule.id,
        before=before,
        after=after,
    )
    db.session.commit()
    return rule


def deactivate_rule(principal: Principal, rule_id: uuid.UUID) -> None:
    """Stop using a routing rule (it stays listed, inactive)."""
    begin_write()
    rule = get_rule(rule_id)
    before = {"active": rule.active}
    rule.active = False
    record(
        Actor.of(principal),
        "routing_rule.deactivate",
        "routing_rule",
        rule.id,
        before=before,
        after={"active": False},
    )
    db.session.commit()


def _rule_summary(rule: RoutingRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in _RULE_FIELDS}


def _check_rule(
    values: Mapping[str, Any], current_partner_id: uuid.UUID | None = None
) -> Partner | None:
    """Refuse a rule that could never route correctly; returns its partner."""
    errors: dict[str, list[str]] = {}
    category = db.session.scalar(
        sa.select(Category).where(Category.code == values["category_code"])
    )
    if category is None:
        errors["category_code"] = ["No category with this code."]

    level, area_code = values["area_level"], values["area_code"]
    if level == "any":
        if area_code is not None:
            errors["area_code"] = ["Leave this out when area_level is any."]
    elif area_code is None:
        errors["area_code"] = [f"Required when area_level is {level}."]
    else:
        model = Ward if level == "ward" else LocalAuthority
        if db.session.get(model, area_code) is None:
            errors["area_code"] = [f"No {level.replace('_', ' ')} with this code."]

    answer_code, answer_value = values["answer_code"], values["answer_value"]
    if (answer_code is None) != (answer_value is None):
        missing = "answer_value" if answer_value is None else "answer_code"
        errors[missing] = ["Give answer_code and answer_value together, or neither."]
    elif answer_code is not None and category is not None:
        question = next((q for q in questions_of(category) if q["code"] == answer_code), None)
        datatype = (question or {}).get("datatype", "string")
        keys = [str(v["key"]) for v in (question or {}).get("values") or [] if "key" in v]
        if question is None:
            errors["answer_code"] = ["Not a question of this category."]
        elif datatype in ("number", "datetime"):
            errors["answer_code"] = ["Rules can match answers to list and text questions only."]
        elif datatype in ("singlevaluelist", "multivaluelist") and answer_value not in keys:
            errors["answer_value"] = [f"Must be one of: {', '.join(keys)}."]

    partner = db.session.get(Partner, values["partner_id"])
    # An inactive partner may stay on a rule it already had; no rule may be given one.
    if partner is None or (not partner.active and partner.id != current_partner_id):
        errors["partner_id"] = ["No active partner with this id."]
    if errors:
        raise InvalidRoutingRule(
            "The routing rule is not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    return partner


# --- the partner API ----------------------------------------------------------------------


class ReferralNotFound(NotFound):
    type = problem_type("referral-not-found")


class ReferralClosed(Conflict):
    type = problem_type("referral-closed")


_CLOSED_REFERRAL = frozenset({ReferralState.NOT_OUR_RESPONSIBILITY, ReferralState.WITHDRAWN})


@dataclass(frozen=True)
class PartnerReferral:
    """A referral as its partner reads it: with only the messages OPCC staff passed on."""

    referral: Referral
    messages: list[ResidentMessage]

    def __getattr__(self, name: str) -> Any:
        if name == "referral":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.referral, name)


def _for_partner(referral: Referral) -> PartnerReferral:
    return PartnerReferral(referral, passed_on_messages(referral.report_id))


def partner_referrals(
    principal: Principal, state: str | None, page: int, page_size: int
) -> PageResult:
    """The referrals sent to the caller's own partner organisation, newest first."""
    statement = (
        sa.select(Referral)
        .where(_own(principal))
        .options(selectinload(Referral.report))
        .order_by(Referral.sent_at.desc(), Referral.id)
    )
    if state is not None:
        statement = statement.where(Referral.state == state)
    return paginate(statement, page, page_size)


def partner_referral(principal: Principal, referral_id: uuid.UUID) -> PartnerReferral:
    """One referral to the caller's organisation, with the messages staff passed on to it;
    anyone else's is 'not found'."""
    return _for_partner(_own_referral(principal, referral_id))


def referral_photo(principal: Principal, photo_id: uuid.UUID) -> Response:
    """A photo of a report referred to the caller's organisation; anyone else's is 'not found'."""
    from copa.reports.photos import PhotoNotFound, serve_photo  # photos -> reports -> routing

    photo = db.session.scalar(
        sa.select(Photo)
        .join(Referral, Referral.report_id == Photo.report_id)
        .where(
            Photo.id == photo_id,
            Photo.redacted_at.is_(None),
            Referral.partner_id == principal.partner_id,
        )
        .limit(1)
    )
    if photo is None:
        raise PhotoNotFound("No such photo.")
    return serve_photo(photo)


def acknowledge_referral(
    principal: Principal, referral_id: uuid.UUID, payload: Mapping[str, Any] | None = None
) -> PartnerReferral:
    """The partner confirms receipt, optionally with its own reference for the referral; the
    report becomes acknowledged. Repeating it changes nothing but a new reference."""
    begin_write()
    referral = _own_referral(principal, referral_id, lock=True)
    _refuse_closed(referral)
    external_reference = (payload or {}).get("external_reference")
    actor = Actor.of(principal)
    if referral.acknowledged_at is None:
        report = referral.report
        if report.status == ReportStatus.ROUTED:
            transition(
                report,
                ReportStatus.ACKNOWLEDGED,
                actor,
                public_note=f"{referral.partner.name} has received it.",
                details={"referral_id": referral.id, "external_reference": external_reference},
            )
        else:  # the report moved on already: the acknowledgement is still the partner's act
            record(
                actor,
                "referral.acknowledge",
                "referral",
                referral.id,
                before={"state": referral.state},
                after={"state": ReferralState.ACKNOWLEDGED},
            )
        referral.acknowledged_at = utcnow()
        if referral.state in (ReferralState.SENT, ReferralState.DELIVERED):
            referral.state = ReferralState.ACKNOWLEDGED
    elif external_reference and external_reference != referral.external_reference:
        record(  # a repeat that only names the partner's reference: still the partner's act
            actor,
            "referral.acknowledge",
            "referral",
            referral.id,
            before={"external_reference": referral.external_reference},
            after={"external_reference": external_reference},
        )
    if external_reference:
        referral.external_reference = external_reference
    db.session.commit()
    return _for_partner(referral)


def update_referral(
    principal: Principal, referral_id: uuid.UUID, payload: Mapping[str, Any]
) -> PartnerReferral:
    """The partner's progress: in progress, resolved, or not theirs (back to OPCC staff).

    Each update is a row on the resident's timeline with the partner's public note; a change
    the report's status does not allow is the workflow's 409.
    """
    begin_write()
    referral = _own_referral(principal, referral_id, lock=True)
    _refuse_closed(referral)
    report = referral.report
    status, note, now = payload["status"], payload.get("public_note"), utcnow()
    actor = Actor.of(principal)
    if status == ReferralState.IN_PROGRESS:
        transition(
            report,
            ReportStatus.IN_PROGRESS,
            actor,
            public_note=note,
            details={
                "referral_id": referral.id,
                "external_reference": payload.get("external_reference"),
            },
        )
        referral.resolved_at = None
    elif status == ReferralState.RESOLVED:
        transition(
            report,
            ReportStatus.RESOLVED,
            actor,
            outcome="resolved_by_partner",
            public_note=note,
            details={
                "referral_id": referral.id,
                "external_reference": payload.get("external_reference"),
            },
        )
        referral.resolved_at = now
    else:  # not our responsibility: staff route it again; it is never dropped
        transition(
            report,
            ReportStatus.RECEIVED,
            actor,
            details={
                "referral_id": referral.id,
                "referral_state": status,
                "external_reference": payload.get("external_reference"),
            },
            public_note=note
            or f"{referral.partner.name} cannot deal with this; we will send it to the "
            "right place.",
        )
        report.unrouted = True
        report.destination_kind, report.destination_name = UNROUTED_KIND, UNROUTED_NAME
    referral.state = status
    if referral.acknowledged_at is None:  # acting on it confirms receipt
        referral.acknowledged_at = now
    if payload.get("external_reference"):
        referral.external_reference = payload["external_reference"]
    db.session.commit()
    return _for_partner(referral)


def _own(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.partner_id is None:  # a partner user not attached to an organisation
        return sa.false()
    return Referral.partner_id == principal.partner_id


def _own_referral(principal: Principal, referral_id: uuid.UUID, *, lock: bool = False) -> Referral:
    statement = (
        sa.select(Referral)
        .where(Referral.id == referral_id, _own(principal))
        .options(
            selectinload(Referral.report).options(
                selectinload(Report.photos), selectinload(Report.contact)
            )
        )
    )
    if lock:  # two updates of one referral apply one after the other (PostgreSQL)
        statement = statement.with_for_update(of=Referral)
    referral = db.session.scalar(statement)
    if referral is None:
        raise ReferralNotFound("No such referral.")
    return referral


def _refuse_closed(referral: Referral) -> None:
    if referral.state in _CLOSED_REFERRAL:
        raise ReferralClosed(
            f"This referral is closed ({referral.state}); OPCC staff have it now.",
            state=str(referral.state),
        )
