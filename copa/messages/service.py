"""Use cases of two-way messages between OPCC staff and residents.

Staff ask the resident behind a report (reviewers) or a complaint (the Resolution Team) for more
information, or tell them something; the resident answers in the app, or adds information to
their own open report. Each staff message tells the resident (``notify``) and is audited in the
same transaction. Messages stay between the OPCC and the resident: a partner sees one only once
staff pass it on, and then only its text and time. A resident's own messages are erased with
their personal data (``privacy.service.erase_resident``).

This feature sits above reports, feedback and notifications: it locks their rows, reads their
states and tells the resident through ``notify``. The features below read a conversation only
through relationships named by string (``Feedback.messages``, ``ResidentMessage.author``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from copa.audit.service import Actor, record
from copa.db import db, utcnow, write
from copa.feedback.models import ComplaintCase, ComplaintState, Feedback
from copa.feedback.service import ComplaintNotFound, FeedbackNotFound
from copa.messages.models import MessageDirection, ResidentMessage
from copa.notifications.service import notify
from copa.reports.models import Report, ReportStatus
from copa.reports.service import ReportNotFound, locked_report
from copa.web.access import Principal
from copa.web.problems import Conflict, NotFound, Unprocessable, problem_type


class MessageKind:
    """What a message is (ResidentMessage.kind)."""

    INFORMATION_REQUEST = "information_request"  # staff ask the resident
    MESSAGE = "message"  # staff tell the resident something
    REPLY = "reply"  # the resident answers a staff message
    INFORMATION = "information"  # the resident adds to their own open report or complaint


STAFF_KINDS = (MessageKind.INFORMATION_REQUEST, MessageKind.MESSAGE)
_EVENT_OF_KIND = {
    MessageKind.INFORMATION_REQUEST: "information.requested",
    MessageKind.MESSAGE: "message.received",
}
# A report in one of these takes no more information, only answers to open requests.
CLOSED_REPORT_STATUSES = frozenset(
    {ReportStatus.CLOSED, ReportStatus.REJECTED, ReportStatus.DUPLICATE}
)
# How the resident sees who wrote to them: the team, never a member of staff by name.
OPCC = "OPCC"
RESOLUTION_TEAM = "Resolution Team"
YOU = "You"


class MessageNotFound(NotFound):
    type = problem_type("message-not-found")


class ResidentUnreachable(Conflict):
    type = problem_type("resident-unreachable")


class SubmissionClosed(Conflict):
    type = problem_type("submission-closed")


class NoConversation(Conflict):
    type = problem_type("no-conversation")


class InvalidReply(Unprocessable):
    type = problem_type("invalid-reply")


# --- what residents are shown -----------------------------------------------------------------


@dataclass(frozen=True)
class ResidentView:
    """A message as the resident sees it: who it is from by team, and whether it awaits them."""

    message: ResidentMessage
    sender: str
    awaiting_reply: bool

    def __getattr__(self, name: str) -> Any:
        if name == "message":
            raise AttributeError(name)
        return getattr(self.message, name)


# --- staff ------------------------------------------------------------------------------------


def message_resident_on_report(
    principal: Principal, report_id: uuid.UUID, payload: Mapping[str, Any]
) -> ResidentMessage:
    """A reviewer asks the resident behind a report for more information, or tells them
    something: the message, the resident's notification and an audit event, together."""
    with write():
        report = locked_report(report_id)
        message = _staff_message(principal, payload, report.device_id, report_id=report.id)
        notify(_EVENT_OF_KIND[message.kind], report=report, note=message.text)
        _audit(principal, "report.message", "report", report.id, message)
    return message


def message_resident_on_complaint(
    principal: Principal, case_id: uuid.UUID, payload: Mapping[str, Any]
) -> ResidentMessage:
    """The Resolution Team asks the complainant for more information, or tells them something."""
    with write():
        case = db.session.scalar(
            sa.select(ComplaintCase)
            .where(ComplaintCase.id == case_id)
            .with_for_update(of=ComplaintCase)
            .execution_options(populate_existing=True)
        )
        if case is None:
            raise ComplaintNotFound("There is no complaint case with that id.")
        feedback = case.feedback
        message = _staff_message(principal, payload, feedback.device_id, feedback_id=feedback.id)
        notify(_EVENT_OF_KIND[message.kind], feedback=feedback, note=message.text)
        _audit(principal, "complaint.message", "complaint", case.id, message)
    return message


def pass_on_to_partner(
    principal: Principal, report_id: uuid.UUID, message_id: uuid.UUID
) -> ResidentMessage:
    """Let the partners a report is referred to read one of its messages (text and time only).
    Passing on a message already passed on changes nothing."""
    with write():
        message = db.session.scalar(
            sa.select(ResidentMessage)
            .where(ResidentMessage.id == message_id, ResidentMessage.report_id == report_id)
            .with_for_update()
        )
        if message is None:
            raise MessageNotFound("This report has no such message.")
        if message.passed_to_partner_at is None:
            message.passed_to_partner_at = utcnow()
            record(
                Actor.of(principal),
                "report.message_pass_on",
                "report",
                report_id,
                after={
                    "message_id": message.id,
                    "passed_to_partner_at": message.passed_to_partner_at,
                },
            )
    return message


def staff_messages(*, report_id: uuid.UUID) -> list[ResidentMessage]:
    """The conversation on a report for staff, oldest first, with authors (loaded with them).
    A complaint case's is ``Feedback.messages``."""
    return _conversation(report_id=report_id)


def passed_on_messages(report_id: uuid.UUID) -> list[ResidentMessage]:
    """The messages of a report that staff passed on to its partners, oldest first."""
    return list(
        db.session.scalars(
            sa.select(ResidentMessage)
            .where(
                ResidentMessage.report_id == report_id,
                ResidentMessage.passed_to_partner_at.is_not(None),
            )
            .order_by(ResidentMessage.created_at, ResidentMessage.id)
        )
    )


def _staff_message(
    principal: Principal,
    payload: Mapping[str, Any],
    device_id: uuid.UUID | None,
    **submission: uuid.UUID,
) -> ResidentMessage:
    if device_id is None:
        raise ResidentUnreachable(
            "The resident cannot be messaged: they erased their data, or the submission came "
            "through Open311 and has no app behind it."
        )
    message = ResidentMessage(
        id=uuid.uuid4(),
        direction=MessageDirection.TO_RESIDENT,
        kind=payload["kind"],
        text=payload["text"],
        author_id=principal.id,
        created_at=utcnow(),
        **submission,
    )
    db.session.add(message)
    return message


def _audit(
    principal: Principal,
    action: str,
    target_kind: str,
    target_id: uuid.UUID,
    message: ResidentMessage,
) -> None:
    record(
        Actor.of(principal),
        action,
        target_kind,
        target_id,
        after={"message_id": message.id, "kind": message.kind, "text": message.text},
    )


# --- residents --------------------------------------------------------------------------------


def report_conversation(principal: Principal, report_id: uuid.UUID) -> list[ResidentView]:
    """The messages on the resident's own report, oldest first; anyone else's is 404."""
    _own_report(principal, report_id)
    return _for_resident(_conversation(report_id=report_id), OPCC)


def feedback_conversation(principal: Principal, feedback_id: uuid.UUID) -> list[ResidentView]:
    """The messages on the resident's own feedback, oldest first; anyone else's is 404."""
    _own_feedback(principal, feedback_id)
    return _for_resident(_conversation(feedback_id=feedback_id), RESOLUTION_TEAM)


def reply_on_report(
    principal: Principal, report_id: uuid.UUID, payload: Mapping[str, Any]
) -> ResidentView:
    """The resident answers a message about their report, or adds information to it while it
    is open. A closed, rejected or duplicate report takes only an answer to an unanswered
    request for information."""
    with write():
        report = _own_report(principal, report_id, lock=True)
        is_open = report.status not in CLOSED_REPORT_STATUSES
        message = _resident_message(
            principal, payload, is_open, f"This report is {report.status}", report_id=report.id
        )
    return _for_resident([message], OPCC)[0]


def reply_on_feedback(
    principal: Principal, feedback_id: uuid.UUID, payload: Mapping[str, Any]
) -> ResidentView:
    """The complainant answers the Resolution Team, or adds information to their open complaint.
    A closed case takes only an answer to an unanswered request for information."""
    with write():
        feedback = _own_feedback(principal, feedback_id)
        case = db.session.scalar(
            sa.select(ComplaintCase)
            .where(ComplaintCase.feedback_id == feedback.id)
            # A reply and a change of the case's state apply one after the other.
            .with_for_update(of=ComplaintCase)
            .execution_options(populate_existing=True)
        )
        if case is None:
            raise NoConversation(
                "Only a complaint takes messages; compliments and suggestions are answered as they are."
            )
        is_open = case.state != ComplaintState.CLOSED
        message = _resident_message(
            principal, payload, is_open, "This complaint is closed", feedback_id=feedback.id
        )
    return _for_resident([message], RESOLUTION_TEAM)[0]


def _resident_message(
    principal: Principal,
    payload: Mapping[str, Any],
    is_open: bool,
    closed: str,
    **submission: uuid.UUID,
) -> ResidentMessage:
    """The resident's message on a (locked) submission of theirs, if it may take one."""
    answering = None
    if payload.get("in_reply_to") is not None:
        answering = db.session.scalar(
            sa.select(ResidentMessage).where(
                ResidentMessage.id == payload["in_reply_to"],
                ResidentMessage.direction == MessageDirection.TO_RESIDENT,
                *(getattr(ResidentMessage, name) == value for name, value in submission.items()),
            )
        )
        if answering is None:
            raise InvalidReply(
                "There is no message to you on this submission with that id.",
                errors={"in_reply_to": ["Not a message to you on this submission."]},
            )
    if not is_open:
        awaited = (
            answering is not None
            and answering.kind == MessageKind.INFORMATION_REQUEST
            and not _has_reply(answering.id)
        )
        if not awaited:
            raise SubmissionClosed(
                f"{closed}: it takes no more information, only an answer to a question we "
                "asked you that is still unanswered."
            )
    message = ResidentMessage(
        id=uuid.uuid4(),
        direction=MessageDirection.FROM_RESIDENT,
        kind=MessageKind.REPLY if answering is not None else MessageKind.INFORMATION,
        text=payload["text"],
        device_id=principal.id,
        in_reply_to_id=answering.id if answering is not None else None,
        created_at=utcnow(),
        **submission,
    )
    db.session.add(message)
    return message


def _has_reply(message_id: uuid.UUID) -> bool:
    return (
        db.session.scalar(
            sa.select(ResidentMessage.id)
            .where(
                ResidentMessage.in_reply_to_id == message_id,
                ResidentMessage.direction == MessageDirection.FROM_RESIDENT,
            )
            .limit(1)
        )
        is not None
    )


def _for_resident(messages: Iterable[ResidentMessage], team: str) -> list[ResidentView]:
    messages = list(messages)
    ids = [message.id for message in messages]
    answered = (
        set(
            db.session.scalars(
                sa.select(ResidentMessage.in_reply_to_id).where(
                    ResidentMessage.in_reply_to_id.in_(ids),
                    ResidentMessage.direction == MessageDirection.FROM_RESIDENT,
                )
            )
        )
        if ids
        else set()
    )
    return [
        ResidentView(
            message,
            sender=YOU if message.direction == MessageDirection.FROM_RESIDENT else team,
            awaiting_reply=message.kind == MessageKind.INFORMATION_REQUEST
            and message.id not in answered,
        )
        for message in messages
    ]


def _own_report(principal: Principal, report_id: uuid.UUID, *, lock: bool = False) -> Report:
    statement = sa.select(Report).where(Report.id == report_id, Report.device_id == principal.id)
    if lock:  # a reply and a staff decision on the report apply one after the other
        statement = statement.with_for_update(of=Report).execution_options(populate_existing=True)
    report = db.session.scalar(statement)
    if report is None:
        raise ReportNotFound("There is no report of yours with that id.")
    return report


def _own_feedback(principal: Principal, feedback_id: uuid.UUID) -> Feedback:
    feedback = db.session.scalar(
        sa.select(Feedback).where(Feedback.id == feedback_id, Feedback.device_id == principal.id)
    )
    if feedback is None:
        raise FeedbackNotFound("There is no feedback of yours with that id.")
    return feedback


def _conversation(
    *, report_id: uuid.UUID | None = None, feedback_id: uuid.UUID | None = None
) -> list[ResidentMessage]:
    column, value = (
        (ResidentMessage.report_id, report_id)
        if report_id is not None
        else (ResidentMessage.feedback_id, feedback_id)
    )
    return list(
        db.session.scalars(
            sa.select(ResidentMessage)
            .where(column == value)
            .order_by(ResidentMessage.created_at, ResidentMessage.id)
        )
    )
