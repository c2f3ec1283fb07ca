"""Words for the codes staff would otherwise read on console pages: report statuses and
outcomes, feedback and complaint states, kinds and outcomes (one place, so every page says the
same)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

REPORT_STATUS = {
    "received": "Received",
    "routed": "Routed",
    "acknowledged": "Acknowledged",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "closed": "Closed",
    "duplicate": "Duplicate",
    "rejected": "Rejected",
}

REPORT_OUTCOME = {
    "passed_to_force_control_room": "Passed to the force control room",
    "resolved_by_opcc": "Resolved by the OPCC",
    "with_opcc": "With the OPCC",
    "passed_to_resolution_team": "Passed to the Resolution Team",
    "referred_to_partner": "Referred to a partner",
    "resolved_by_partner": "Resolved by the partner",
    "signposted": "Signposted",
    "duplicate": "A duplicate",
    "no_further_action": "No further action",
    # How a complaint case ended (copa.feedback.workflow.COMPLAINT_OUTCOMES).
    "service_recovered": "Put right (service recovered)",
    "explanation_given": "Explanation given",
    "apology_given": "Apology given",
    "referred_to_professional_standards": "Referred to Professional Standards (Schedule 3)",
    "withdrawn": "Withdrawn by the complainant",
}

AUDIT_ACTION = {
    "report.transition": "Status changed",
    "report.assign": "Assignment changed",
    "report.note": "Internal note added",
    "report.redact": "Redacted",
    "report.message": "Message to the resident",
    "report.message.pass_on": "Message passed on to the partner",
    "report.message_pass_on": "Message passed on to the partner",
    "user.create": "User added",
    "user.update": "User changed",
    "open311_client.create": "Open311 client added",
    "open311_client.update": "Open311 client changed",
    "open311_client.replace_key": "Open311 API key replaced",
    "category.create": "Category added",
    "category.update": "Category changed",
    "partner.create": "Partner added",
    "partner.update": "Partner changed",
    "routing_rule.create": "Routing rule added",
    "routing_rule.update": "Routing rule changed",
    "complaint.transition": "Complaint case moved on",
    "complaint.assign": "Complaint case assignment changed",
    "complaint.note": "Internal note added to a complaint case",
    "complaint.message": "Message to the complainant",
    "complaint.action": "Complaint action recorded",
    "complaint.allegation": "Allegation recorded",
    "feedback.transition": "Feedback handled",
    "delivery.retry": "Delivery retried",
    "referral.acknowledge": "Referral acknowledged by the partner",
    "tally.create": "Counter tally recorded",
    "call_statistics.set": "101 call statistics set",
    "signpost.create": "Signpost added",
    "signpost.update": "Signpost changed",
    "signpost.reorder": "Signposts reordered",
}

ROLE = {
    "reviewer": "Reviewer",
    "resolution": "Resolution Team",
    "analyst": "Analyst",
    "admin": "Admin",
    "partner": "Partner user",
    "resident": "Resident",
}

ACTOR_KIND = {"staff": "Staff", "partner": "Partner user", "system": "The system"}


# Codes whose words are not the code itself.
_NAMED = {
    "fcm": "Push (Android)",
    "apns": "Push (iPhone)",
    "inbox": "In-app inbox",
    "open311": "Open311",
    "dissatisfaction": "Dissatisfaction (a complaint)",
    "service_recovery": "Service recovery",
    "to_resident": "To the resident",
    "from_resident": "From the resident",
}


def plain(code: object) -> str:
    """Any other code in words: ``first_contact`` is "First contact"."""
    if str(code) in _NAMED:
        return _NAMED[str(code)]
    text = str(code or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def status(code: str | None) -> str:
    return REPORT_STATUS.get(code or "", plain(code))


def outcome(code: str | None) -> str:
    return REPORT_OUTCOME.get(code or "", plain(code))


def audit_action(action: str) -> str:
    return AUDIT_ACTION.get(action, plain(action.replace(".", " ")))


def role(code: str | None) -> str:
    return ROLE.get(code or "", plain(code))


def roles(codes: Sequence[str] | str | None) -> str:
    """Roles in words, e.g. "Admin, Reviewer" (a comma-separated text or a list)."""
    if isinstance(codes, str):
        codes = [code for code in codes.split(",") if code]
    return ", ".join(role(code) for code in sorted(codes or []))


def actor_kind(code: str | None) -> str:
    return ACTOR_KIND.get(code or "", plain(code))


def value(shown: Any, names: Mapping[str, str] | None = None) -> str:
    """A value kept in the audit log, as a person reads it (an id in ``names`` by its name)."""
    if names and isinstance(shown, str) and shown in names:
        return names[shown]
    if shown is None or shown == "" or shown == []:
        return "(none)"
    if isinstance(shown, bool):
        return "yes" if shown else "no"
    if isinstance(shown, list | tuple):
        return ", ".join(value(item, names) for item in shown)
    if isinstance(shown, dict):
        return "; ".join(f"{plain(key)}: {value(item, names)}" for key, item in shown.items())
    return str(shown)


def changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    names: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """An audit event's before and after as rows: what, was, now (only what differs, or all of
    ``after`` when there is no ``before``); ids in ``names`` by their names."""
    before, after = before or {}, after or {}
    rows = []
    for key in [*before, *(key for key in after if key not in before)]:
        was, now = before.get(key), after.get(key)
        if key in before and key in after and was == now:
            continue

        def shown(kept: Any, key: str = key) -> str:
            return roles(kept) if key == "roles" else value(kept, names)

        rows.append(
            {
                "what": plain(key.removesuffix("_id") if names and key.endswith("_id") else key),
                "was": shown(was) if key in before else "",
                "now": shown(now) if key in after else "",
            }
        )
    return rows


def answers(
    questions: Sequence[Mapping[str, Any]], given: Mapping[str, Any] | None
) -> list[tuple[str, str]]:
    """A report's answers as its category's question text and option labels, in the order
    residents saw them; an answer to a question no longer asked keeps its code in words."""
    given = dict(given or {})
    shown: list[tuple[str, str]] = []
    for question in questions:
        code = str(question.get("code"))
        if code in given:
            shown.append((_question_text(question), _answer(question, given.pop(code))))
    shown.extend((plain(code), _answer({}, value)) for code, value in given.items())
    return shown


def _question_text(question: Mapping[str, Any]) -> str:
    return str(question.get("description") or plain(question.get("code")))


def _answer(question: Mapping[str, Any], value: Any) -> str:
    labels = {
        str(option.get("key")): str(option.get("name"))
        for option in question.get("values") or []
        if isinstance(option, Mapping)
    }
    values = value if isinstance(value, list | tuple) else [value]
    return ", ".join(_one(labels, item) for item in values)


def _one(labels: Mapping[str, str], value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if str(value) in labels:
        return labels[str(value)]
    return str(value)
