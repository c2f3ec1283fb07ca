"""Console pages of the report categories and their extra questions (admins only).

Each page calls the same service function, through the same input schema, as the API route it
mirrors (/v1/admin/categories): a form's questions become the API's ``questions`` list, so they
are checked once, in ``CategoryIn``/``CategoryPatchIn``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError

from copa.areas import service as areas
from copa.catalog import category_admin
from copa.catalog import schemas as catalog_schemas
from copa.catalog.models import CategoryGroup, DefaultDestination
from copa.catalog.service import questions_of
from copa.console.pages import blp, console_page, load_form, page
from copa.db import abandon
from copa.routing import rule_admin
from copa.web.access import Role
from copa.web.problems import Problem, flatten_messages

CATEGORIES = (Role.ADMIN,)  # as /v1/admin/categories
SPARE_QUESTIONS = 2  # blank question slots offered under the existing ones
_WHOLE_NUMBER = re.compile(r"^\s*\d{1,9}\s*$")
_LIST = set(catalog_schemas.LIST_DATATYPES)

GROUPS = (
    (CategoryGroup.POLICING, "Policing"),
    (CategoryGroup.OPCC, "The Commissioner's office (OPCC)"),
    (CategoryGroup.NON_POLICING, "Not for the police"),
)
DESTINATIONS = (
    (DefaultDestination.FORCE_CONTROL_ROOM, "Force control room"),
    (DefaultDestination.OPCC, "OPCC"),
    (DefaultDestination.COUNCIL, "The council of the area"),
    (DefaultDestination.LANDLORD, "The landlord"),
    (DefaultDestination.HEALTH_AND_SOCIAL_CARE, "Health and social care partner"),
)
DATATYPES = (
    ("string", "Short text"),
    ("text", "Long text"),
    ("number", "Number"),
    ("datetime", "Date and time"),
    ("singlevaluelist", "One choice from a list"),
    ("multivaluelist", "Several choices from a list"),
)
_SETTING_LABELS = {
    "code": "Category code",
    "name": "Name",
    "description": "Description",
    "group": "Group",
    "default_destination": "Default destination",
    "keywords": "Keywords",
    "location_required": "Location required",
    "sort_order": "Display position",
    "questions": "Questions",
    "_body": "Category",
}
_QUESTION_LABELS = {
    "code": "code",
    "description": "question",
    "datatype": "kind of answer",
    "required": "required",
    "values": "choices",
    "order": "position",
}


# --- form <-> API shape ---------------------------------------------------------------------


def _slots(form: Mapping[str, str]) -> list[int]:
    """The question slots the form carries (q-<n>-...), in order."""
    found = {int(m.group(1)) for key in form if (m := re.match(r"^q-(\d{1,3})-", key))}
    return sorted(found)


def _choices(text: str) -> list[dict[str, str]] | str:
    """'key = Label' lines as values; the raw text back when a line has no '='."""
    values = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, equals, name = line.partition("=")
        if not equals:
            return text  # for the schema to refuse as not a list of choices
        values.append({"key": key.strip(), "name": name.strip()})
    return values


def _payload(form: Mapping[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The form as the API's JSON, and for each question sent, the slot it came from."""
    data: dict[str, Any] = {
        key: value
        for key, value in form.items()
        if not key.startswith("q-")
        and key not in ("location_required", "keywords", "sort_order", "confirm_rules")
    }
    data["location_required"] = form.get("location_required") == "yes"
    keywords = form.get("keywords", "")
    data["keywords"] = [word.strip() for word in keywords.split(",") if word.strip()]
    sort_order = form.get("sort_order", "")
    if sort_order:
        data["sort_order"] = int(sort_order) if _WHOLE_NUMBER.match(sort_order) else sort_order
    questions, origin = [], []
    for slot in _slots(form):
        field = {
            name: form.get(f"q-{slot}-{name}", "").strip()
            for name in ("code", "description", "datatype", "values")
        }
        if form.get(f"q-{slot}-remove") == "yes" or not (field["code"] or field["description"]):
            continue  # a blank slot, or a question removed
        question: dict[str, Any] = {
            "code": field["code"],
            "description": field["description"],
            "datatype": field["datatype"],
            "required": form.get(f"q-{slot}-required") == "yes",
        }
        if field["datatype"] in _LIST or field["values"]:
            question["values"] = _choices(field["values"])
        questions.append(question)
        origin.append(slot)
    data["questions"] = questions
    return data, origin


def _form_of(category: Any) -> dict[str, str]:
    """A category's settings as the edit form's fields."""
    form = {
        "code": category.code,
        "name": category.name,
        "description": category.description or "",
        "group": category.group,
        "default_destination": category.default_destination,
        "keywords": ", ".join(category.keywords or []),
        "location_required": "yes" if category.location_required else "",
        "sort_order": str(category.sort_order),
    }
    for slot, question in enumerate(questions_of(category)):
        form[f"q-{slot}-code"] = str(question["code"])
        form[f"q-{slot}-description"] = str(question.get("description", ""))
        form[f"q-{slot}-datatype"] = str(question.get("datatype", "string"))
        form[f"q-{slot}-required"] = "yes" if question.get("required") else ""
        form[f"q-{slot}-values"] = "\n".join(
            f"{value['key']} = {value.get('name', '')}" for value in question.get("values") or []
        )
    return form


def _errors(messages: Mapping[str, list[str]], origin: list[int]) -> list[dict[str, str]]:
    """Schema errors as the summary lists them: a label and the id of the field to fix (one
    entry a field, its messages joined)."""
    shown: list[dict[str, str]] = []
    for key, texts in messages.items():
        parts = key.split(".")
        text = " ".join(texts)
        if parts[0] == "questions" and len(parts) > 1 and parts[1].isdigit():
            slot = origin[int(parts[1])] if int(parts[1]) < len(origin) else 0
            field = parts[2] if len(parts) > 2 else "code"
            target = f"q-{slot}-{field if field in _QUESTION_LABELS else 'code'}"
            label = f"Question {slot + 1}, {_QUESTION_LABELS.get(field, field)}"
            shown.append({"label": label, "target": target, "text": text, "key": target})
        else:
            name = parts[0]
            target = name if name in _SETTING_LABELS and name not in ("_body",) else ""
            if name == "questions":
                target = "questions"
            shown.append(
                {
                    "label": _SETTING_LABELS.get(name, name),
                    "target": target,
                    "text": text,
                    "key": name,
                }
            )
    merged: dict[str, dict[str, str]] = {}
    for error in shown:
        if error["key"] in merged:
            merged[error["key"]]["text"] += " " + error["text"]
        else:
            merged[error["key"]] = error
    return list(merged.values())


# --- pages ----------------------------------------------------------------------------------


@blp.route("/categories")
@console_page(*CATEGORIES)
def categories():
    """Every category, offered or not (GET /v1/admin/categories)."""
    result = category_admin.list_categories(None, 1, 1000)
    return page("console/categories.html", categories=result.items)


def _edit_page(status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()  # a refused change leaves nothing behind, nor any lock held
    form = context.setdefault("form", {})
    context.setdefault("broken", [])
    slots = _slots(form)
    first_spare = (max(slots) + 1) if slots else 0
    context.setdefault("errors", [])
    return page(
        "console/category.html",
        status,
        slots=[*slots, *range(first_spare, first_spare + SPARE_QUESTIONS)],
        groups=GROUPS,
        destinations=DESTINATIONS,
        datatypes=DATATYPES,
        invalid={error["key"] for error in context["errors"]},
        **context,
    )


@blp.route("/categories/new")
@console_page(*CATEGORIES)
def category_new():
    return _edit_page(form={"location_required": "yes"}, category=None)


@blp.route("/categories", methods=["POST"])
@console_page(*CATEGORIES)
def category_create():
    """Add a category with its questions (POST /v1/admin/categories)."""
    form = request.form.to_dict()
    data, origin = _payload(form)
    try:
        payload = load_form(catalog_schemas.CategoryIn(), data)
        category = category_admin.create_category(g.principal, payload)
    except ValidationError as error:
        return _edit_page(
            422, form=form, category=None, errors=_errors(flatten_messages(error.messages), origin)
        )
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        messages = problem.errors or {"_body": [problem.detail or problem.title]}
        return _edit_page(422, form=form, category=None, errors=_errors(messages, origin))
    flash(f"Added “{category.name}”: residents' apps offer it from now on.")
    return redirect(url_for("console.categories"), 303)


@blp.route("/categories/<string(maxlength=64):code>")
@console_page(*CATEGORIES)
def category(code: str):
    """One category's settings and questions, to change (GET /v1/admin/categories/{code})."""
    found = category_admin.get_category(code)
    return _edit_page(form=_form_of(found), category=found)


@blp.route("/categories/<string(maxlength=64):code>", methods=["POST"])
@console_page(*CATEGORIES)
def category_update(code: str):
    """Change a category and its questions (PATCH /v1/admin/categories/{code})."""
    found = category_admin.get_category(code)
    form = request.form.to_dict()
    data, origin = _payload(form)
    data.pop("code", None)  # shown, never changed
    try:
        changes = load_form(catalog_schemas.CategoryPatchIn(), data)
        changes.setdefault("description", "")  # an emptied field clears it
        broken = _broken_rules(found, changes.get("questions"))
        if broken and form.get("confirm_rules") != "yes":
            # Routing would change without a word: the admin sees which rules first, and
            # saves again (ticking that they accept it) or keeps the question or choice.
            form["code"] = code
            return _edit_page(409, form=form, category=found, broken=broken)
        category_admin.update_category(g.principal, code, changes)
    except ValidationError as error:
        form["code"] = code
        return _edit_page(
            422, form=form, category=found, errors=_errors(flatten_messages(error.messages), origin)
        )
    flash(f"Saved “{found.name}”. Reports already made keep the questions they were asked.")
    for rule in broken:
        flash(
            f"Warning: {rule['words']} will never match again ({rule['why']}). Change or stop it."
        )
    return redirect(url_for("console.categories"), 303)


def _broken_rules(category: Any, questions: list | None) -> list[dict[str, Any]]:
    """The active routing rules a change of the category's questions would leave never
    matching, in words (none when the questions are not changed)."""
    if questions is None:
        return []
    shown = []
    asked = {str(q["code"]): q for q in questions_of(category)}  # as they stand, before the change
    for broken in rule_admin.rules_broken_by(category.code, questions):
        rule = broken.rule
        question = asked.get(rule.answer_code or "", {})
        labels = {
            str(v.get("key")): str(v.get("name", v.get("key")))
            for v in question.get("values") or []
        }
        answer = f"“{question.get('description') or rule.answer_code}” is answered “{labels.get(str(rule.answer_value), rule.answer_value)}”"
        area = "anywhere"
        if rule.area_level != "any":
            try:
                area = "in " + areas.area_by_code(rule.area_code).name
            except Problem:
                area = f"in {rule.area_code}"
        shown.append(
            {
                "id": rule.id,
                "words": f"the rule sending {category.name} reports {area} to "
                f"{rule.partner.name} when {answer}",
                "why": broken.why,
            }
        )
    return shown


@blp.route("/categories/<string(maxlength=64):code>/deactivate", methods=["POST"])
@console_page(*CATEGORIES)
def category_deactivate(code: str):
    """Stop offering a category (DELETE /v1/admin/categories/{code})."""
    found = category_admin.get_category(code)
    category_admin.deactivate_category(g.principal, code)
    flash(f"“{found.name}” is no longer offered to residents; its reports stay.")
    return redirect(url_for("console.categories"), 303)


@blp.route("/categories/<string(maxlength=64):code>/reactivate", methods=["POST"])
@console_page(*CATEGORIES)
def category_reactivate(code: str):
    """Offer a deactivated category again (PATCH /v1/admin/categories/{code} active: true)."""
    found = category_admin.update_category(g.principal, code, {"active": True})
    flash(f"“{found.name}” is offered to residents again.")
    return redirect(url_for("console.categories"), 303)
