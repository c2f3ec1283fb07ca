"""Compliments and suggestions are handled: a compliment is passed on to whoever it praises, a
suggestion answered; each is then closed, the resident hears of it and the queue shows it."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.notifications.models import Notification
from tests.review.support import give_feedback

NPT = "Middlesbrough Neighbourhood Policing Team"


def pass_on(client, staff, feedback_id, **body):
    return client.post(
        f"/v1/staff/feedback/{feedback_id}/pass-on", json=body, headers=staff.headers
    )


def answer(client, staff, feedback_id, **body):
    return client.post(f"/v1/staff/feedback/{feedback_id}/answer", json=body, headers=staff.headers)


def told_about(app, feedback_id: str) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [
            (row.event, row.note)
            for row in db.session.execute(
                sa.select(Notification.event, Notification.note)
                .where(Notification.feedback_id == uuid.UUID(feedback_id))
                .order_by(Notification.created_at)
            )
        ]


def queue(client, staff, **query) -> dict:
    response = client.get("/v1/staff/queue", query_string=query, headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_compliment_is_passed_on_and_the_resident_sees_to_whom(app, client, resident, reviewer):
    compliment = give_feedback(client, resident)
    assert compliment["state"] == "received" and compliment["passed_to"] is None

    handled = pass_on(
        client, reviewer, compliment["id"], passed_to=NPT, public_note="They were delighted."
    )

    assert handled.status_code == 200, handled.get_json()
    staff_view = handled.get_json()
    assert staff_view["state"] == "closed" and staff_view["passed_to"] == NPT
    assert staff_view["handled_at"] is not None
    mine = client.get(f"/v1/feedback/{compliment['id']}", headers=resident).get_json()
    assert (mine["state"], mine["passed_to"], mine["response"]) == ("closed", NPT, None)
    assert mine["handled_at"] == staff_view["handled_at"]
    assert ("compliment.passed_on", "They were delighted.") in told_about(app, compliment["id"])
    with app.app_context():
        actions = list(
            db.session.scalars(
                sa.select(AuditEvent.after).where(
                    AuditEvent.target_id == uuid.UUID(compliment["id"]),
                    AuditEvent.action == "feedback.transition",
                )
            )
        )
    assert {"state": "passed_on", "passed_to": NPT, "public_note": "They were delighted."} in (
        actions
    )


def test_a_suggestion_is_answered_and_the_resident_reads_the_answer(
    app, client, resident, resolution
):
    suggestion = give_feedback(client, resident, kind="suggestion", text="More patrols at night")
    words = "Thank you: the neighbourhood team will patrol the park on Friday nights."

    handled = answer(client, resolution, suggestion["id"], response=words)

    assert handled.status_code == 200, handled.get_json()
    mine = client.get(f"/v1/feedback/{suggestion['id']}", headers=resident).get_json()
    assert (mine["state"], mine["response"], mine["passed_to"]) == ("closed", words, None)
    assert mine["handled_at"] is not None
    assert ("suggestion.answered", words) in told_about(app, suggestion["id"])


def test_only_a_waiting_compliment_can_be_passed_on_and_a_suggestion_answered(
    app, client, resident, reviewer
):
    compliment = give_feedback(client, resident)
    suggestion = give_feedback(client, resident, kind="suggestion", text="Better lighting")
    complaint = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came")

    assert answer(client, reviewer, compliment["id"], response="Hm").status_code == 409
    assert pass_on(client, reviewer, suggestion["id"], passed_to=NPT).status_code == 409
    refused = pass_on(client, reviewer, complaint["id"], passed_to=NPT)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert pass_on(client, reviewer, compliment["id"], passed_to=NPT).status_code == 200
    again = pass_on(client, reviewer, compliment["id"], passed_to="Someone else")
    assert again.status_code == 409

    mine = client.get(f"/v1/feedback/{compliment['id']}", headers=resident).get_json()
    assert mine["passed_to"] == NPT  # the second attempt changed nothing
    assert [event for event, _ in told_about(app, compliment["id"])].count(
        "compliment.passed_on"
    ) == 1
    assert (
        pass_on(client, reviewer, uuid.uuid4(), passed_to=NPT).status_code == 404
    )  # no such feedback
    assert pass_on(client, reviewer, compliment["id"], passed_to="x" * 201).status_code == 422


def test_the_queue_shows_their_state_and_leaves_out_handled_ones_when_asked(
    client, resident, reviewer
):
    handled = give_feedback(client, resident)
    waiting = give_feedback(client, resident, kind="suggestion", text="A bench by the bus stop")
    complaint = give_feedback(client, resident, kind="dissatisfaction", text="Rude reply")
    assert pass_on(client, reviewer, handled["id"], passed_to=NPT).status_code == 200

    everything = {
        item["id"]: item["status"] for item in queue(client, reviewer, kind="feedback")["items"]
    }
    open_only = {
        item["id"] for item in queue(client, reviewer, kind="feedback", handled="false")["items"]
    }
    done = {item["id"] for item in queue(client, reviewer, handled="true")["items"]}
    closed = {
        item["id"] for item in queue(client, reviewer, kind="compliment", status="closed")["items"]
    }

    assert everything[handled["id"]] == "closed"
    assert everything[waiting["id"]] == "received"
    assert everything[complaint["id"]] == "logged"
    assert open_only == {waiting["id"], complaint["id"]}
    assert done == {handled["id"]}
    assert closed == {handled["id"]}
