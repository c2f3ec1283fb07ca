"""The console's page for one resident's feedback, reached from the queue: what they said (a
possible emergency shown first), its complaint case if it is a dissatisfaction, the conversation,
what they were told and the audit trail; a compliment is passed on, a suggestion answered, or
either closed as it is (the same use cases as POST /v1/staff/feedback/<id>/pass-on, /answer and
/close)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, g, redirect, request, url_for
from marshmallow import ValidationError

from copa.console.pages import QUEUE, blp, console_page, load_form, page, people
from copa.db import abandon
from copa.feedback.models import FeedbackState
from copa.feedback.workflow import allowed_feedback_transitions
from copa.review import schemas as review_schemas
from copa.review import service as review
from copa.web.problems import Problem, flatten_messages


def _feedback_page(
    feedback_id: uuid.UUID, status: int = 200, *, failed: str | None = None, **context: Any
) -> tuple[str, int]:
    """The page; ``failed`` names the form whose ``errors`` (and kept ``form`` input) to show."""
    if status >= 400:
        abandon()  # a refused change leaves nothing behind, nor any lock held
    item = review.staff_feedback(feedback_id)
    shown = review_schemas.StaffFeedbackOut().dump(item)
    return page(
        "console/feedback.html",
        status,
        feedback=shown,
        people=people(shown.get("audit") or []),
        allowed=allowed_feedback_transitions(item),
        failed=failed,
        errors=context.pop("errors", {}),
        form=context.pop("form", {}),
        **context,
    )


@blp.route("/feedback/<uuid:feedback_id>")
@console_page(*QUEUE)
def feedback(feedback_id: uuid.UUID):
    return _feedback_page(feedback_id)


def _handle(feedback_id: uuid.UUID, step: str, schema, use_case, done: str):  # noqa: ANN001, ANN202
    try:
        payload = load_form(schema, request.form)
        use_case(g.principal, feedback_id, payload)
    except ValidationError as error:
        return _feedback_page(
            feedback_id,
            422,
            failed=step,
            errors=flatten_messages(error.messages),
            form=request.form,
        )
    except Problem as problem:
        if problem.status == 404:
            raise
        return _feedback_page(
            feedback_id,
            problem.status,
            failed=step,
            errors=problem.errors or {"state": [problem.detail or problem.title]},
            form=request.form,
        )
    flash(done)
    return redirect(url_for("console.feedback", feedback_id=feedback_id), 303)


@blp.route("/feedback/<uuid:feedback_id>/pass-on", methods=["POST"])
@console_page(*QUEUE)
def feedback_pass_on(feedback_id: uuid.UUID):
    return _handle(
        feedback_id,
        FeedbackState.PASSED_ON,
        review_schemas.FeedbackPassOnIn(),
        review.pass_on_compliment,
        "Passed on. It is closed, and the resident is told to whom.",
    )


@blp.route("/feedback/<uuid:feedback_id>/answer", methods=["POST"])
@console_page(*QUEUE)
def feedback_answer(feedback_id: uuid.UUID):
    return _handle(
        feedback_id,
        FeedbackState.ANSWERED,
        review_schemas.FeedbackAnswerIn(),
        review.answer_suggestion,
        "Answered. It is closed, and the resident reads the answer.",
    )


@blp.route("/feedback/<uuid:feedback_id>/close", methods=["POST"])
@console_page(*QUEUE)
def feedback_close(feedback_id: uuid.UUID):
    return _handle(
        feedback_id,
        FeedbackState.CLOSED,
        review_schemas.FeedbackCloseIn(),
        review.close_feedback,
        "Closed. The resident is not told.",
    )
