"""Where every report goes: routing rules choose the partner; a referral and its outbox
message are written in the submission's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from copa.audit.service import SYSTEM, Actor
from copa.db import db, utcnow
from copa.outbox.models import OutboxMessage
from copa.refcache import ReferenceCache, attach
from copa.reports.models import Report, ReportStatus
from copa.reports.workflow import transition
from copa.routing.models import Channel, Partner, PartnerKind, Referral, RoutingRule

_AREA_RANK = {"ward": 2, "local_authority": 1, "any": 0}
UNROUTED_KIND = "unrouted"
UNROUTED_NAME = "OPCC staff, who will decide where it goes"


def _load_active_rules(session: Session) -> dict[str, tuple[RoutingRule, ...]]:
    """The active rules of active partners, with their partners, by category, oldest first."""
    rules = session.scalars(
        sa.select(RoutingRule)
        .join(Partner, RoutingRule.partner_id == Partner.id)
        .where(RoutingRule.active.is_(True), Partner.active.is_(True))
        .order_by(RoutingRule.created_at, RoutingRule.id)
    ).all()
    by_category: dict[str, list[RoutingRule]] = {}
    for rule in rules:
        by_category.setdefault(rule.category_code, []).append(rule)
    return {code: tuple(each) for code, each in by_category.items()}


ACTIVE_RULES = ReferenceCache("active-routing-rules", _load_active_rules, RoutingRule, Partner)


def choose_rule(
    category_code: str,
    ward_code: str | None,
    local_authority_code: str | None,
    answers: Mapping[str, object],
) -> RoutingRule | None:
    """The rule for a report: one whose answer condition matches beats one without; then
    ward beats local authority beats any area. None when nothing matches.

    The rule comes from the per-process cache, shared: read it, and ``attach`` its partner
    before linking rows to it."""
    rules = ACTIVE_RULES.get().get(category_code, ())
    return _best(_matching(rules, ward_code, local_authority_code, answers))


def _mismatch(
    rule: RoutingRule,
    ward_code: str | None,
    local_authority_code: str | None,
    answers: Mapping[str, object],
) -> str | None:
    """Why ``rule`` does not apply to a report in that area with those answers; None when it
    does. The one test of a rule, for routing and for its explanation alike."""
    area_of_level = {"ward": ward_code, "local_authority": local_authority_code}
    if rule.area_level != "any" and rule.area_code != area_of_level.get(rule.area_level):
        return "area"
    if rule.answer_code is None:
        return None
    answer = answers.get(rule.answer_code)
    if answer == rule.answer_value or (isinstance(answer, list) and rule.answer_value in answer):
        return None
    return "answer"


def _matching(
    rules: tuple[RoutingRule, ...],
    ward_code: str | None,
    local_authority_code: str | None,
    answers: Mapping[str, object],
) -> list[RoutingRule]:
    return [r for r in rules if _mismatch(r, ward_code, local_authority_code, answers) is None]


def precedence(rule: RoutingRule) -> tuple[bool, int]:
    """How a matching rule weighs against others (higher wins): an answer condition first,
    then ward over local authority over any area."""
    return (rule.answer_code is not None, _AREA_RANK[rule.area_level])


def _best(matching: list[RoutingRule]) -> RoutingRule | None:
    # max() keeps the first of equals: among rules of the same precedence the oldest wins.
    return max(matching, key=precedence) if matching else None


@dataclass(frozen=True)
class RuleCheck:
    """One active rule of the category, as the decision saw it."""

    rule: RoutingRule
    matched: bool
    mismatch: str | None  # "area" or "answer" when it did not match
    chosen: bool


@dataclass(frozen=True)
class RouteDecision:
    """Where a report would go and why, as ``route`` would decide it now (nothing written).

    ``rule`` and ``partner`` are None when no rule matches: the report then waits, unrouted,
    for OPCC staff (``destination_name``)."""

    category_code: str
    ward_code: str | None
    local_authority_code: str | None
    answers: dict[str, object]
    rule: RoutingRule | None
    partner: Partner | None
    destination_kind: str
    destination_name: str
    outcome: str | None  # the provisional outcome the report would have
    checks: tuple[RuleCheck, ...]


def explain_route(
    category_code: str,
    ward_code: str | None,
    local_authority_code: str | None,
    answers: Mapping[str, object],
) -> RouteDecision:
    """Which destination a report of this category, area and answers would go to, by which
    rule, and how each active rule of the category fared: ``route``'s own decision, nothing
    written."""
    rule = choose_rule(category_code, ward_code, local_authority_code, answers)
    checks = tuple(
        RuleCheck(
            rule=each,
            matched=(why := _mismatch(each, ward_code, local_authority_code, answers)) is None,
            mismatch=why,
            chosen=each is rule,
        )
        # In the order they are weighed: the highest precedence first, the oldest first among
        # equals (sorted() is stable over the cache's oldest-first order).
        for each in sorted(ACTIVE_RULES.get().get(category_code, ()), key=precedence, reverse=True)
    )
    if rule is None:
        kind, name, partner, outcome = UNROUTED_KIND, UNROUTED_NAME, None, None
    else:
        partner = rule.partner
        kind, name, outcome = partner.kind, partner.name, provisional_outcome(partner)
    return RouteDecision(
        category_code=category_code,
        ward_code=ward_code,
        local_authority_code=local_authority_code,
        answers=dict(answers),
        rule=rule,
        partner=partner,
        destination_kind=kind,
        destination_name=name,
        outcome=outcome,
        checks=checks,
    )


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
    partner = attach(rule.partner)
    return refer(report, partner, actor, outcome=provisional_outcome(partner))


def provisional_outcome(partner: Partner) -> str:
    """The outcome a report routed to ``partner`` has until someone decides otherwise: every
    report that has gone somewhere has one (reports/workflow.py REPORT_OUTCOMES)."""
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


def enqueue_referral(
    referral: Referral, event_type: str = "referral.created"
) -> OutboxMessage | None:
    """The message announcing a referral to its partner; None when the partner has no channel
    (it reads its referrals through the partner API)."""
    partner = referral.partner
    if partner.channel == Channel.NONE:
        return None
    message = OutboxMessage(
        event_type=event_type,
        partner=partner,
        referral=referral,
        channel=partner.channel,
        # Thin: identifiers only. The relay reads the referral when it sends, so a redaction
        # made before delivery is what the partner receives.
        payload={"referral_id": str(referral.id), "report_id": str(referral.report_id)},
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


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
