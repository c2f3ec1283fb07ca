"""The console page of the targets (admins only): the same service and input schema as
PUT /v1/admin/targets, so a form is checked exactly as the API checks a body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError

from copa.console.pages import blp, console_page, page
from copa.db import abandon
from copa.targets import schemas as target_schemas
from copa.targets import service as target_service
from copa.web.access import Role
from copa.web.problems import Problem, flatten_messages

TARGETS = (Role.ADMIN,)  # as /v1/admin/targets
_SINGLE = (
    "report_first_action_hours",
    "complaint_first_contact_hours",
    "referral_acknowledgement_hours",
)
_CATEGORY = "category-"
_WHOLE_NUMBER = re.compile(r"^\s*\d{1,9}\s*$")
LABELS = {
    "report_first_action_hours": "First action on a report, any other category",
    "complaint_first_contact_hours": "Complaint first contact",
    "referral_acknowledgement_hours": "Partner acknowledgement of a referral",
}


def _number(text: str) -> int | str:
    return int(text) if _WHOLE_NUMBER.match(text) else text.strip()


def _payload(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the API's body: a blank category field means "the default"."""
    data: dict[str, Any] = {
        name: _number(form.get(name, "")) for name in _SINGLE if form.get(name, "").strip()
    }
    data["category_hours"] = {
        key.removeprefix(_CATEGORY): _number(value)
        for key, value in form.items()
        if key.startswith(_CATEGORY) and value.strip()
    }
    return data


def _errors(messages: Mapping[str, list[str]], names: Mapping[str, str]) -> list[dict[str, str]]:
    """Each problem with the field it belongs to (the form's own id) and a label in words."""
    shown = []
    for key, texts in messages.items():
        if key.startswith("category_hours."):
            code = key.split(".")[1]
            field, label = f"{_CATEGORY}{code}", names.get(code, code)
        elif key in LABELS:
            field, label = key, LABELS[key]
        else:
            field, label = "", "Targets"
        for text in texts:
            shown.append({"key": field, "label": label, "text": text})
    return shown


def _page(status: int = 200, form: Mapping[str, str] | None = None, errors=()) -> tuple[str, int]:
    shown = target_service.targets_shown()
    if form is None:
        form = {name: str(shown[name]) for name in _SINGLE} | {
            f"{_CATEGORY}{code}": str(hours) for code, hours in shown["category_hours"].items()
        }
    return page(
        "console/targets.html",
        status,
        targets=shown,
        form=form,
        labels=LABELS,
        errors=list(errors),
        invalid={error["key"] for error in errors},
    )


@blp.route("/targets")
@console_page(*TARGETS)
def targets():
    """The targets in force (GET /v1/admin/targets)."""
    return _page()


@blp.route("/targets", methods=["POST"])
@console_page(*TARGETS)
def targets_save():
    """Replace the targets (PUT /v1/admin/targets); a refusal keeps what was typed."""
    form = request.form.to_dict()
    try:
        payload = target_schemas.TargetsIn().load(_payload(form))
        target_service.set_targets(g.principal, payload)
    except ValidationError as error:
        return _refused(form, flatten_messages(error.messages))
    except Problem as problem:
        if problem.status != 422:
            raise
        return _refused(form, problem.errors or {"_body": [problem.detail or problem.title]})
    flash("Targets saved. Items still waiting are due by the new targets from now on.")
    return redirect(url_for("console.targets"), 303)


def _refused(form: dict[str, str], messages: Mapping[str, list[str]]) -> tuple[str, int]:
    abandon()
    names = {row["code"]: row["name"] for row in target_service.targets_shown()["categories"]}
    return _page(422, form=form, errors=_errors(messages, names))
