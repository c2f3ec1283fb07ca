"""The message catalogue: what a resident is told for each event, in each language.

Keyed by event, then language. ``title`` and ``body`` may appear on a lock screen, so they
carry only the reference and the kind of update: never a description, an address, a name or
a note (the public note travels separately, shown only inside the signed-in app). Placeholders:
``{reference}``, ``{destination}`` (an organisation's name, never a person's) and ``{outcome}``
(the outcome in words, from ``OUTCOME_WORDS``). Add a language by adding its entry to every
event; ``text()`` falls back to English for a language an event does not have yet.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Text:
    title: str
    body: str


CATALOGUE: dict[str, dict[str, Text]] = {
    # reports
    "report.received": {
        "en": Text(
            "Report {reference} received", "We have your report. It is going to {destination}."
        )
    },
    "report.routed": {
        "en": Text("Update on {reference}", "Your report is being passed to {destination}.")
    },
    "report.acknowledged": {
        "en": Text("Update on {reference}", "{destination} has received your report.")
    },
    "report.in_progress": {
        "en": Text("Update on {reference}", "{destination} is working on your report.")
    },
    "report.not_theirs": {
        "en": Text(
            "Update on {reference}",
            "The organisation it was sent to cannot deal with it. We are finding the right one.",
        )
    },
    "report.resolved": {
        "en": Text("Update on {reference}", "Your report has been resolved: {outcome}.")
    },
    "report.closed": {
        "en": Text("Update on {reference}", "Your report has been closed: {outcome}.")
    },
    "report.duplicate": {
        "en": Text(
            "Update on {reference}",
            "Your report is about something already reported; it is being dealt with there.",
        )
    },
    "report.rejected": {"en": Text("Update on {reference}", "We cannot take your report further.")},
    "report.reopened": {
        "en": Text("Update on {reference}", "Your report is being looked at again.")
    },
    "report.delivery_failed": {
        "en": Text(
            "Update on {reference}",
            "We could not pass your report on yet. OPCC staff are looking at it.",
        )
    },
    "question.answered": {
        "en": Text(
            "Your question {reference} has been answered", "Open the app to read the answer."
        )
    },
    # two-way messages
    "information.requested": {
        "en": Text(
            "We need more information about {reference}",
            "Open the app to read the question and answer it.",
        )
    },
    "message.received": {"en": Text("New message about {reference}", "Open the app to read it.")},
    # compliments and suggestions
    "feedback.received": {
        "en": Text(
            "Feedback {reference} received", "Thank you. We will tell you what happens next."
        )
    },
    "compliment.passed_on": {
        "en": Text(
            "Update on {reference}",
            "Your compliment has been passed on to {destination}. Thank you.",
        )
    },
    "suggestion.answered": {
        "en": Text("Update on {reference}", "Your suggestion has been considered and answered.")
    },
    # complaint cases
    "complaint.logged": {
        "en": Text(
            "Complaint {reference} logged",
            "The Resolution Team has logged your complaint and will contact you.",
        )
    },
    "complaint.contacted": {
        "en": Text(
            "Update on {reference}",
            "The Resolution Team has made first contact about your complaint.",
        )
    },
    "complaint.service_recovery": {
        "en": Text("Update on {reference}", "The Resolution Team is working to put things right.")
    },
    "complaint.resolved": {
        "en": Text("Update on {reference}", "Your complaint has been resolved.")
    },
    "complaint.escalated": {
        "en": Text(
            "Update on {reference}",
            "Your complaint has been passed to the force's Professional Standards for a formal review.",
        )
    },
    "complaint.closed": {
        "en": Text("Update on {reference}", "Your complaint has been closed: {outcome}.")
    },
    "satisfaction.invited": {
        "en": Text(
            "How did we do with {reference}?",
            "Tell us in the app how satisfied you are with how your complaint was handled.",
        )
    },
}

# Outcome codes in words, for residents (reports/workflow.py REPORT_OUTCOMES,
# feedback/workflow.py COMPLAINT_OUTCOMES).
OUTCOME_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "passed_to_force_control_room": "passed to the force control room",
        "resolved_by_opcc": "dealt with by the Commissioner's office",
        "with_opcc": "with the Commissioner's office",
        "passed_to_resolution_team": "passed to the Resolution Team",
        "referred_to_partner": "passed to the organisation responsible",
        "resolved_by_partner": "dealt with by the organisation responsible",
        "signposted": "we have pointed you to the service that can help",
        "duplicate": "it had already been reported",
        "no_further_action": "no further action",
        "service_recovered": "put right",
        "explanation_given": "an explanation was given",
        "apology_given": "an apology was given",
        "referred_to_professional_standards": "referred to Professional Standards",
        "withdrawn": "withdrawn",
        "": "no outcome recorded",
    }
}

LANGUAGES = frozenset(language for texts in CATALOGUE.values() for language in texts)


def text(event: str, language: str, **values: str) -> Text:
    """The title and body of ``event`` in ``language`` (English when it has no translation)."""
    texts = CATALOGUE[event]
    chosen = texts.get(language) or texts[DEFAULT_LANGUAGE]
    words = OUTCOME_WORDS.get(language) or OUTCOME_WORDS[DEFAULT_LANGUAGE]
    outcome = values.get("outcome") or ""
    filled = {
        "reference": values.get("reference") or "your submission",
        "destination": values.get("destination") or "the organisation responsible",
        "outcome": words.get(outcome, OUTCOME_WORDS[DEFAULT_LANGUAGE].get(outcome, outcome)),
    }
    return Text(chosen.title.format(**filled), chosen.body.format(**filled))
