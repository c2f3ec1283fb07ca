"""Routing rules, as admins manage them: which partner takes a category in an area (and, with
an answer condition, which answer), checked so that a rule can always route."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import area_by_code, locate_point
from copa.audit.service import Actor, deactivate, record
from copa.catalog.models import Category
from copa.catalog.service import questions_of
from copa.db import db, write
from copa.routing.models import Partner, RoutingRule
from copa.routing.partner_admin import changed_settings
from copa.routing.service import RouteDecision, explain_route, precedence
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import NotFound, Unprocessable, problem_type


class RoutingRuleNotFound(NotFound):
    type = problem_type("routing-rule-not-found")


class InvalidRoutingRule(Unprocessable):
    type = problem_type("invalid-routing-rule")


class InvalidRoutingTest(Unprocessable):
    type = problem_type("invalid-routing-test")


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
    with write():
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


def rules_in_evaluation_order() -> list[RoutingRule]:
    """Every rule by category, each category's in the order routing weighs them: a rule on an
    answer first, then ward, local authority, any area; the oldest first among equals (the one
    that wins a tie). Inactive rules (or rules of inactive partners) last in their category."""
    rules = db.session.scalars(
        sa.select(RoutingRule).order_by(RoutingRule.created_at, RoutingRule.id)
    ).all()

    def weight(rule: RoutingRule) -> tuple[str, bool, tuple[bool, int]]:
        live = rule.active and rule.partner.active
        answer, area = precedence(rule)
        return (rule.category_code, not live, (not answer, -area))

    return sorted(rules, key=weight)  # stable: the oldest first among equals


def rules_broken_by(category_code: str, questions: list[Mapping[str, Any]]) -> list[BrokenRule]:
    """The active rules of the category that would never match again were its questions
    these: their question removed, their answer no longer a choice, or the question no longer
    one a rule can match."""
    by_code = {str(q.get("code")): q for q in questions}
    broken = []
    rules = db.session.scalars(
        sa.select(RoutingRule)
        .where(
            RoutingRule.category_code == category_code,
            RoutingRule.active.is_(True),
            RoutingRule.answer_code.is_not(None),
        )
        .order_by(RoutingRule.created_at, RoutingRule.id)
    )
    for rule in rules:
        question = by_code.get(rule.answer_code or "")
        datatype = (question or {}).get("datatype", "string")
        keys = [str(v.get("key")) for v in (question or {}).get("values") or []]
        if question is None:
            why = "that question would be removed"
        elif datatype in ("number", "datetime"):
            why = "that question's answers would no longer be a choice or text"
        elif datatype in ("singlevaluelist", "multivaluelist") and rule.answer_value not in keys:
            why = "that answer would no longer be a choice"
        else:
            continue
        broken.append(BrokenRule(rule, why))
    return broken


@dataclass(frozen=True)
class BrokenRule:
    """An active rule a change of its category's questions would leave never matching."""

    rule: RoutingRule
    why: str


def try_route(
    category_code: str,
    *,
    point: Mapping[str, float] | None = None,
    area_code: str | None = None,
    answers: Mapping[str, object] | None = None,
) -> RouteDecision:
    """Where a report of the category, at ``point`` or in the ward or local authority
    ``area_code`` (or with no location), with ``answers``, would go and by which rule: routing's
    own decision (``explain_route``), nothing written."""
    errors: dict[str, list[str]] = {}
    if db.session.scalar(sa.select(Category.id).where(Category.code == category_code)) is None:
        errors["category_code"] = ["No category with this code."]
    if point is not None and area_code is not None:
        errors["area_code"] = ["Give a location or an area code, not both."]
    if errors:
        raise InvalidRoutingTest("The routing test is not valid.", errors=errors)
    ward_code = authority_code = None
    if point is not None:
        located = locate_point(point)
        ward_code, authority_code = located.ward_code, located.local_authority_code
    elif area_code is not None:
        area = area_by_code(area_code, field="area_code")
        ward_code, authority_code = area.ward_code, area.local_authority_code
    return explain_route(category_code, ward_code, authority_code, dict(answers or {}))


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
    with write():
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
        before, after = changed_settings(old, _rule_summary(rule))
        record(
            Actor.of(principal),
            "routing_rule.update",
            "routing_rule",
            rule.id,
            before=before,
            after=after,
        )
    return rule


def deactivate_rule(principal: Principal, rule_id: uuid.UUID) -> None:
    """Stop using a routing rule (it stays listed, inactive)."""
    with write():
        deactivate(Actor.of(principal), "routing_rule", get_rule(rule_id))


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
