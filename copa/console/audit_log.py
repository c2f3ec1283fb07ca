"""The console's audit log page (admins only): who did what to what, newest first, with the
filters of GET /v1/admin/audit as a GET form, over the same service (review.list_audit).

Who is the person (their name and email, looked up by the actor's id) and the roles they acted
with; actions are in words, times in London with the zone, before and after as rows."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.audit.schemas import AuditEventOut
from copa.auth import user_admin
from copa.console import words
from copa.console.pages import blp, console_page, page, people
from copa.review import schemas as review_schemas
from copa.review import service as review
from copa.web.access import Role
from copa.web.pagination import MAX_PAGE_SIZE
from copa.web.problems import flatten_messages

AUDIT = (Role.ADMIN,)  # as /v1/admin/audit
PAGE_SIZE = 50
TARGET_KINDS = {
    "report": "A report",
    "complaint": "A complaint case",
    "feedback": "Feedback",
    "user": "A user",
    "open311_client": "An Open311 client",
    "category": "A category",
    "partner": "A partner",
    "routing_rule": "A routing rule",
    "referral": "A referral",
    "delivery": "A delivery",
    "signpost": "A signpost",
    "tally": "A counter tally",
    "call_statistics": "101 call statistics",
}
# The console page of a target, where there is one: (endpoint, its id's argument).
TARGET_PAGES = {
    "report": ("console.report", "report_id"),
    "complaint": ("console.complaint", "case_id"),
    "feedback": ("console.feedback", "feedback_id"),
    "user": ("console.user", "user_id"),
}
FILTER_LABELS = {
    "actor_id": "Who",
    "actor_kind": "Kind of actor",
    "action": "Action",
    "target_kind": "Done to",
    "target_id": "Target id",
    "from": "From",
    "to": "To",
    "page": "Page",
}


def _actions() -> list[tuple[str, str]]:
    """The action filter's choices: each action in words, and "anything to a ..." prefixes."""
    prefixes = sorted({action.split(".")[0] + "." for action in words.AUDIT_ACTION})
    named = sorted(
        ((action, words.audit_action(action)) for action in words.AUDIT_ACTION),
        key=lambda choice: choice[1],
    )
    unique = list(dict(named).items())
    return [
        *unique,
        *((prefix, f"Anything with {words.plain(prefix[:-1]).lower()}") for prefix in prefixes),
    ]


@blp.route("/audit")
@console_page(*AUDIT)
def audit():
    """The audit log, newest first (GET /v1/admin/audit), with its filters."""
    args = MultiDict((k, v) for k, v in request.args.items(multi=True) if v != "")
    choices = {
        "actors": user_admin.list_users({"page": 1, "page_size": MAX_PAGE_SIZE}).items,
        "actions": _actions(),
        "target_kinds": TARGET_KINDS,
        "labels": FILTER_LABELS,
        "target_pages": TARGET_PAGES,
    }
    try:
        query = review_schemas.AuditQuery().load({"page_size": PAGE_SIZE, **args.to_dict()})
    except ValidationError as error:
        return page(
            "console/audit.html",
            422,
            results=None,
            events=[],
            people={},
            errors=flatten_messages(error.messages),
            args=args,
            **choices,
        )
    results = review.list_audit(query)
    events: list[dict[str, Any]] = AuditEventOut(many=True).dump(results.items)
    return page(
        "console/audit.html",
        results=results,
        events=events,
        people=people(events),
        errors={},
        args=args,
        **choices,
    )
