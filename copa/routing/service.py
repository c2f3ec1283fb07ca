"""Where every report goes: routing rules choose the partner; a referral and its outbox
message are written in the submission's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import sqlalchemy as sa

from copa.db import db
from copa.outbox.service import enqueue_referral
from copa.reports.models import Report, ReportStatus
from copa.review.workflow import transition
from copa.routing.models import Partner, Referral, RoutingRule

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


def route(
    report: Report, *, actor_kind: str = "system", actor_id: uuid.UUID | None = None
) -> Referral | None:
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
    return refer(report, rule.partner, actor_kind=actor_kind, actor_id=actor_id)


def refer(
    report: Report, partner: Partner, *, actor_kind: str, actor_id: uuid.UUID | None = None
) -> Referral:
    """Refer a report to a partner: the referral, its outbox message, the status change."""
    referral = Referral(id=uuid.uuid4(), report=report, report_id=report.id, partner=partner)
    db.session.add(referral)
    enqueue_referral(referral)
    report.unrouted = False
    report.destination_kind, report.destination_name = partner.kind, partner.name
    transition(
        report,
        ReportStatus.ROUTED,
        actor_kind=actor_kind,
        actor_id=actor_id,
        public_note=f"Sent to {partner.name}.",
    )
    return referral
