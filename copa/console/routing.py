"""Console pages of the routing rules (admins only): the rules in the order routing weighs
them, add, change and stop a rule, and the tester that says where a report would go.

The forms go through the API's own schemas and services (/v1/admin/routing-rules); the tester
asks ``rule_admin.try_route`` as POST /v1/admin/routing-rules/test does: routing's own decision
(``routing.service.explain_route``, over ``choose_rule``), with nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError

from copa.areas import service as areas
from copa.catalog import category_admin
from copa.catalog.service import questions_of
from copa.console import words
from copa.console.pages import blp, console_page, load_form, page
from copa.db import abandon
from copa.routing import partner_admin, rule_admin
from copa.routing import schemas as routing_schemas
from copa.web.access import Role
from copa.web.problems import Problem, Unprocessable, flatten_messages

RULES = (Role.ADMIN,)  # as /v1/admin/routing-rules
LISTS = ("singlevaluelist", "multivaluelist")
TEXTS = ("string", "text")
# The API's field -> the form's field that sets it (and the summary's label for it).
_FIELDS = {
    "category_code": ("category", "Category"),
    "area_level": ("area", "Area"),
    "area_code": ("area", "Area"),
    "answer_code": ("answer", "Answer condition"),
    "answer_value": ("answer", "Answer condition"),
    "partner_id": ("partner", "Destination"),
    "active": ("active", "In use"),
}
PARTNER_KINDS = {
    "police": "the force control room",
    "opcc": "the OPCC",
    "council": "council",
    "housing_provider": "housing provider",
    "health_and_social_care": "health and social care",
    "environment_agency": "environment agency",
}


# --- words for a rule -------------------------------------------------------------------------


class Catalogue:
    """Categories, areas and partners by code, to put rules into words."""

    def __init__(self) -> None:
        self.categories = {c.code: c for c in category_admin.list_categories(None, 1, 1000).items}
        self.authorities = areas.list_authorities()

    def category_name(self, code: str) -> str:
        category = self.categories.get(code)
        return category.name if category else f"{code} (no such category)"

    def questions(self, code: str) -> list[Mapping[str, Any]]:
        category = self.categories.get(code)
        return questions_of(category) if category else []

    def area(self, level: str, code: str | None) -> str:
        if level == "any" or not code:
            return "Anywhere"
        try:
            found = areas.area_by_code(code)
        except Problem:
            return f"{code} (no such area)"
        if found.level == "ward":
            authority = areas.area_by_code(found.local_authority_code).name
            return f"{found.name} ward ({authority})"
        return f"All of {found.name}"

    def answer(self, category_code: str, answer_code: str | None, value: str | None) -> str:
        if answer_code is None:
            return "Any answers"
        question = next(
            (q for q in self.questions(category_code) if q["code"] == answer_code), None
        )
        if question is None:
            return f"“{answer_code}” is “{value}” (no longer asked)"
        labels = {str(v.get("key")): str(v.get("name", v.get("key"))) for v in _values(question)}
        label = labels.get(str(value))
        if question.get("datatype") in LISTS and label is None:
            label = f"{value} (no longer a choice)"
        return f"{question.get('description') or answer_code}: {label or value}"

    def given(self, category_code: str, answer_code: str, value: object) -> str:
        """An answer given to a question, in words: the question, then the choices' labels."""
        chosen = value if isinstance(value, list) else [value]
        said = [self.answer(category_code, answer_code, str(each)) for each in chosen]
        question, _, _ = said[0].partition(": ")
        return question + ": " + ", ".join(each.partition(": ")[2] or each for each in said)

    def rule(self, rule: Any) -> dict[str, Any]:
        return {
            "rule": rule,
            "category": self.category_name(rule.category_code),
            "area": self.area(rule.area_level, rule.area_code),
            "answer": self.answer(rule.category_code, rule.answer_code, rule.answer_value),
            "partner": rule.partner.name,
            "partner_kind": PARTNER_KINDS.get(rule.partner.kind, words.plain(rule.partner.kind)),
            "live": rule.active and rule.partner.active,
        }


def _values(question: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in question.get("values") or [] if isinstance(v, Mapping) and "key" in v]


# --- the list ---------------------------------------------------------------------------------


@blp.route("/routing-rules")
@console_page(*RULES)
def routing_rules():
    """Every rule, by category, in the order routing weighs them (GET /v1/admin/routing-rules)."""
    catalogue = Catalogue()
    groups: dict[str, list[dict[str, Any]]] = {}
    for rule in rule_admin.rules_in_evaluation_order():
        groups.setdefault(rule.category_code, []).append(catalogue.rule(rule))
    return page(
        "console/routing_rules.html",
        groups=[(catalogue.category_name(code), code, rules) for code, rules in groups.items()],
    )


# --- add and change ---------------------------------------------------------------------------


def _payload(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the API's JSON: one area choice and one answer choice become two fields
    each."""
    data: dict[str, Any] = {"category_code": form.get("category", "")}
    area = form.get("area", "")
    level, _, code = area.partition(":")
    data["area_level"] = level or ""
    data["area_code"] = code or None
    answer = form.get("answer", "")
    if answer:
        answer_code, _, value = answer.partition(":")
        data["answer_code"], data["answer_value"] = answer_code, value
    else:
        data["answer_code"] = data["answer_value"] = None
    data["partner_id"] = form.get("partner", "")
    data["active"] = form.get("active") == "yes"
    return {k: v for k, v in data.items() if v != ""}


def _form_of(rule: Any) -> dict[str, str]:
    area = "any" if rule.area_level == "any" else f"{rule.area_level}:{rule.area_code}"
    answer = f"{rule.answer_code}:{rule.answer_value}" if rule.answer_code else ""
    return {
        "category": rule.category_code,
        "area": area,
        "answer": answer,
        "partner": str(rule.partner_id),
        "active": "yes" if rule.active else "",
    }


def _errors(messages: Mapping[str, list[str]]) -> list[dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for key, texts in messages.items():
        target, label = _FIELDS.get(key.split(".")[0], ("", "The rule"))
        text = " ".join(texts)
        if target in merged:
            merged[target]["text"] += " " + text
        else:
            merged[target] = {"key": target, "target": target, "label": label, "text": text}
    return list(merged.values())


def _answer_choices(catalogue: Catalogue, category_code: str, current: str) -> list[tuple]:
    """(value, label) for each answer a rule may match: each choice of each list question,
    and the rule's own condition when it is not among them (a text answer, say)."""
    choices = []
    for question in catalogue.questions(category_code):
        if question.get("datatype") not in LISTS:
            continue
        text = question.get("description") or question["code"]
        for value in _values(question):
            label = value.get("name", value["key"])
            choices.append((f"{question['code']}:{value['key']}", f"{text}: {label}"))
    if current and current not in {value for value, _ in choices}:
        code, _, value = current.partition(":")
        choices.append((current, catalogue.answer(category_code, code, value)))
    return choices


def _rule_page(status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()  # a refused change leaves nothing behind, nor any lock held
    catalogue = Catalogue()
    form = context.setdefault("form", {})
    context.setdefault("errors", [])
    rule = context.setdefault("rule", None)
    category_code = form.get("category", "")
    partners = partner_admin.active_partners()
    if rule is not None and not rule.partner.active:
        partners.append(rule.partner)  # the rule may keep the partner it has
    return page(
        "console/routing_rule.html",
        status,
        categories=list(catalogue.categories.values()),
        chosen_category=catalogue.categories.get(category_code),
        authorities=catalogue.authorities,
        answers=_answer_choices(catalogue, category_code, form.get("answer", "")),
        partners=partners,
        kinds=PARTNER_KINDS,
        invalid={error["key"] for error in context["errors"]},
        **context,
    )


def _refused(error: Exception) -> list[dict[str, str]] | None:
    if isinstance(error, ValidationError):
        return _errors(flatten_messages(error.messages))
    if isinstance(error, Problem) and error.status == 422:
        return _errors(error.errors or {"_body": [error.detail or error.title]})
    return None


@blp.route("/routing-rules/new")
@console_page(*RULES)
def routing_rule_new():
    """The form of a new rule; its category is chosen first (the answers depend on it)."""
    form = {"category": request.args.get("category", ""), "area": "any", "active": "yes"}
    return _rule_page(form=form)


@blp.route("/routing-rules", methods=["POST"])
@console_page(*RULES)
def routing_rule_create():
    """Add a rule (POST /v1/admin/routing-rules)."""
    form = request.form.to_dict()
    try:
        payload = load_form(routing_schemas.RoutingRuleIn(), _payload(form))
        rule = rule_admin.create_rule(g.principal, payload)
    except (ValidationError, Problem) as error:
        errors = _refused(error)
        if errors is None:
            raise
        return _rule_page(422, form=form, errors=errors)
    flash(f"Added the rule: {Catalogue().rule(rule)['category']} goes to {rule.partner.name}.")
    return redirect(url_for("console.routing_rules"), 303)


@blp.route("/routing-rules/<uuid:rule_id>")
@console_page(*RULES)
def routing_rule(rule_id: uuid.UUID):
    """One rule, to change (GET /v1/admin/routing-rules/{id}); ?category= changes its category
    before the rest is chosen."""
    rule = rule_admin.get_rule(rule_id)
    form = _form_of(rule)
    chosen = request.args.get("category")
    if chosen and chosen != rule.category_code:
        form.update(category=chosen, answer="")
    return _rule_page(form=form, rule=rule)


@blp.route("/routing-rules/<uuid:rule_id>", methods=["POST"])
@console_page(*RULES)
def routing_rule_update(rule_id: uuid.UUID):
    """Change a rule (PATCH /v1/admin/routing-rules/{id})."""
    rule = rule_admin.get_rule(rule_id)
    form = request.form.to_dict()
    try:
        changes = load_form(routing_schemas.RoutingRulePatchIn(), _payload(form))
        changes.setdefault("answer_code", None)  # "any answers" clears the condition
        changes.setdefault("answer_value", None)
        changes.setdefault("area_code", None)
        rule_admin.update_rule(g.principal, rule_id, changes)
    except (ValidationError, Problem) as error:
        errors = _refused(error)
        if errors is None:
            raise
        return _rule_page(422, form=form, errors=errors, rule=rule)
    flash("Saved the rule. Reports made from now on are routed by it.")
    return redirect(url_for("console.routing_rules"), 303)


@blp.route("/routing-rules/<uuid:rule_id>/deactivate", methods=["POST"])
@console_page(*RULES)
def routing_rule_deactivate(rule_id: uuid.UUID):
    """Stop using a rule (DELETE /v1/admin/routing-rules/{id}); it stays listed."""
    rule_admin.deactivate_rule(g.principal, rule_id)
    flash("The rule is no longer used; reports it matched go by the other rules.")
    return redirect(url_for("console.routing_rules"), 303)


@blp.route("/routing-rules/<uuid:rule_id>/reactivate", methods=["POST"])
@console_page(*RULES)
def routing_rule_reactivate(rule_id: uuid.UUID):
    """Use a stopped rule again (PATCH /v1/admin/routing-rules/{id} active: true)."""
    try:
        rule_admin.update_rule(g.principal, rule_id, {"active": True})
    except Problem as problem:
        if problem.status != 422:
            raise
        abandon()
        flash(f"The rule was not used again: {problem.detail}")
        return redirect(url_for("console.routing_rule", rule_id=rule_id), 303)
    flash("The rule is used again.")
    return redirect(url_for("console.routing_rules"), 303)


# --- the tester -------------------------------------------------------------------------------


def _tester_answers(
    questions: list[Mapping[str, Any]], args: Any
) -> tuple[dict[str, object], dict[str, Any]]:
    """The answers the tester's form gives (as a report stores them), and the form's values."""
    answers: dict[str, object] = {}
    shown: dict[str, Any] = {}
    for question in questions:
        code = str(question["code"])
        datatype = question.get("datatype", "string")
        if datatype == "multivaluelist":
            chosen = [value for value in args.getlist(f"a-{code}") if value]
            if chosen:
                answers[code] = shown[code] = chosen
        elif datatype in ("singlevaluelist", *TEXTS):
            value = (args.get(f"a-{code}") or "").strip()
            if value:
                answers[code] = shown[code] = value
    return answers, shown


@blp.route("/routing-rules/test")
@console_page(*RULES)
def routing_rule_test():
    """Where a report of a category, at a point or in a ward, with some answers, would go, and
    by which rule: routing's own decision, nothing written."""
    catalogue = Catalogue()
    args = request.args
    category = catalogue.categories.get(args.get("category", ""))
    questions = [
        q
        for q in (questions_of(category) if category else [])
        if q.get("datatype") in (*LISTS, *TEXTS)
    ]
    answers, shown = _tester_answers(questions, args)
    errors: list[dict[str, str]] = []
    decision = place = None
    if category is not None and args.get("find"):
        lat, lon = args.get("lat", "").strip(), args.get("lon", "").strip()
        try:
            point = None
            if lat or lon:
                try:
                    point = {"lat": float(lat), "lon": float(lon)}
                except ValueError:
                    raise Unprocessable(
                        "Give the point's latitude and longitude as numbers, e.g. 54.5762 "
                        "and -1.2348."
                    ) from None
            decision = rule_admin.try_route(
                category.code,
                point=point,
                area_code=None if point else (args.get("ward") or None),
                answers=answers,
            )
        except Problem as problem:
            if problem.status != 422:
                raise
            errors.append(
                {"key": "lat", "target": "lat", "label": "Where", "text": problem.detail or ""}
            )
        if decision is not None and decision.ward_code:
            place = catalogue.area("ward", decision.ward_code)
    checks = []
    if decision is not None:
        checks = [{**catalogue.rule(check.rule), "check": check} for check in decision.checks]
    return page(
        "console/routing_test.html",
        422 if errors else 200,
        categories=list(catalogue.categories.values()),
        category=category,
        questions=questions,
        shown=shown,
        args=args,
        authorities=catalogue.authorities,
        errors=errors,
        decision=decision,
        place=place,
        chosen=catalogue.rule(decision.rule) if decision and decision.rule else None,
        checks=checks,
        answer_words=[
            catalogue.given(category.code, code, value) for code, value in answers.items()
        ]
        if category
        else [],
        outcome=words.outcome(decision.outcome) if decision and decision.outcome else None,
        kinds=PARTNER_KINDS,
    )
