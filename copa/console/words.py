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
    "feedback.transition": "State changed",
    "complaint.transition": "State changed",
    "complaint.assign": "Assignment changed",
    "complaint.note": "Internal note added",
    "complaint.action": "Service-recovery action",
    "complaint.allegation": "Allegation added",
    "complaint.message": "Message to the complainant",
}


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
