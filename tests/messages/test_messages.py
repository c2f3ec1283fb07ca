"""Two-way messages: OPCC staff ask residents for more information or tell them something, and
residents answer in the app; partners see a message only once staff pass it on."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.feedback.models import ComplaintCase
from copa.messages.models import ResidentMessage
from copa.notifications.models import Notification
from copa.reports import photos
from copa.routing.models import Referral
from tests.factories import (
    PASSWORD,
    UserFactory,
    bearer,
    load_reference_data,
    login,
    register_device,
    user_with_role,
)
from tests.review.support import give_feedback, staff_user, submit

QUESTION = "Which end of the bus shelter do they gather at?"
ANSWER = "The end nearest the Co-op, from about 7pm."


@pytest.fixture(autouse=True)
def photo_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    yield
    app.extensions.pop(photos.STORE_EXTENSION, None)


@pytest.fixture
def cleveland(app):
    load_reference_data(app)


@pytest.fixture
def resident(client, cleveland):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def reviewer(app, client, cleveland):
    return staff_user(app, client, "reviewer", display_name="Priya Reviewer")


@pytest.fixture
def resolution(app, client, cleveland):
    return staff_user(app, client, "resolution", display_name="Rowan Resolver")


def ask(client, staff, report_id, text=QUESTION, kind="information_request"):
    response = client.post(
        f"/v1/staff/reports/{report_id}/messages",
        json={"text": text, "kind": kind},
        headers=staff.headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def conversation(client, resident, path):
    response = client.get(f"{path}/messages", headers=resident)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def close(client, staff, report_id):
    response = client.post(
        f"/v1/staff/reports/{report_id}/transitions",
        json={"to": "closed", "outcome": "no_further_action"},
        headers=staff.headers,
    )
    assert response.status_code == 200, response.get_json()


def complaint_case_of(app, feedback_id) -> str:
    with app.app_context():
        return str(
            db.session.scalar(
                sa.select(ComplaintCase.id).where(
                    ComplaintCase.feedback_id == uuid.UUID(feedback_id)
                )
            )
        )


# --- staff ask, the resident answers ----------------------------------------------------------


def test_a_reviewer_asks_and_the_resident_reads_it_in_the_app_and_is_notified(
    app, client, resident, reviewer
):
    report = submit(client, resident)
    sent = ask(client, reviewer, report["id"])
    assert sent["kind"] == "information_request" and sent["direction"] == "to_resident"
    assert sent["author"]["display_name"] == "Priya Reviewer"

    [message] = conversation(client, resident, f"/v1/reports/{report['id']}")
    assert message["text"] == QUESTION
    assert message["from"] == "OPCC"
    assert message["awaiting_reply"] is True
    # Staff are never named to the resident.
    assert "Priya" not in client.get(
        f"/v1/reports/{report['id']}/messages", headers=resident
    ).get_data(as_text=True)

    with app.app_context():
        notification = db.session.scalar(
            sa.select(Notification).where(
                Notification.report_id == uuid.UUID(report["id"]),
                Notification.event == "information.requested",
            )
        )
        assert notification is not None
        assert notification.note == QUESTION  # shown inside the app
        assert QUESTION not in notification.title + notification.body  # never on a lock screen


def test_the_resident_replies_and_staff_see_the_whole_conversation(client, resident, reviewer):
    report = submit(client, resident)
    question = ask(client, reviewer, report["id"])
    reply = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER, "in_reply_to": question["id"]},
        headers=resident,
    )
    assert reply.status_code == 201, reply.get_json()
    assert reply.get_json()["kind"] == "reply"
    assert reply.get_json()["from"] == "You"
    assert reply.get_json()["in_reply_to"] == question["id"]

    mine = conversation(client, resident, f"/v1/reports/{report['id']}")
    assert [m["text"] for m in mine] == [QUESTION, ANSWER]  # oldest first
    assert mine[0]["awaiting_reply"] is False

    staff_view = client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer.headers)
    messages = staff_view.get_json()["messages"]
    assert [(m["direction"], m["kind"], m["text"]) for m in messages] == [
        ("to_resident", "information_request", QUESTION),
        ("from_resident", "reply", ANSWER),
    ]
    assert messages[0]["author"]["display_name"] == "Priya Reviewer"
    assert messages[1]["author"] is None


def test_the_resident_adds_information_to_their_open_report(client, resident, reviewer):
    report = submit(client, resident)
    added = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": "They were back again last night."},
        headers=resident,
    )
    assert added.status_code == 201
    assert added.get_json()["kind"] == "information"
    staff_view = client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer.headers)
    assert staff_view.get_json()["messages"][0]["text"] == "They were back again last night."


def test_a_reply_must_answer_a_message_to_that_resident_on_that_report(client, resident, reviewer):
    report = submit(client, resident)
    other = submit(client, resident)
    question = ask(client, reviewer, other["id"])
    wrong = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER, "in_reply_to": question["id"]},
        headers=resident,
    )
    assert wrong.status_code == 422
    assert "in_reply_to" in wrong.get_json()["errors"]
    unknown_field = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER, "kind": "information_request"},
        headers=resident,
    )
    assert unknown_field.status_code == 422  # a resident cannot set the kind
    assert conversation(client, resident, f"/v1/reports/{report['id']}") == []


def test_another_residents_report_or_feedback_is_not_found(client, resident, reviewer):
    report = submit(client, resident)
    feedback = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    ask(client, reviewer, report["id"])
    someone_else = bearer(register_device(client)["access_token"])
    for path in (f"/v1/reports/{report['id']}", f"/v1/feedback/{feedback['id']}"):
        assert client.get(f"{path}/messages", headers=someone_else).status_code == 404
        posted = client.post(f"{path}/messages", json={"text": "Hi"}, headers=someone_else)
        assert posted.status_code == 404
        assert posted.mimetype == "application/problem+json"
    assert [m["text"] for m in conversation(client, resident, f"/v1/reports/{report['id']}")] == [
        QUESTION
    ]


# --- closed reports ---------------------------------------------------------------------------


def test_a_closed_report_refuses_new_information_but_takes_the_answer_to_an_open_question(
    client, resident, reviewer
):
    report = submit(client, resident)
    question = ask(client, reviewer, report["id"])
    close(client, reviewer, report["id"])

    more = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": "One more thing."},
        headers=resident,
    )
    assert more.status_code == 409
    assert "closed" in more.get_json()["detail"]

    answer = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER, "in_reply_to": question["id"]},
        headers=resident,
    )
    assert answer.status_code == 201
    # The question is answered now: a second answer on the closed report is refused.
    again = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": "And also this.", "in_reply_to": question["id"]},
        headers=resident,
    )
    assert again.status_code == 409
    texts = [m["text"] for m in conversation(client, resident, f"/v1/reports/{report['id']}")]
    assert texts == [QUESTION, ANSWER]


# --- complaints -------------------------------------------------------------------------------


def test_the_resolution_team_messages_a_complainant_who_answers(app, client, resident, resolution):
    feedback = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    case_id = complaint_case_of(app, feedback["id"])
    sent = client.post(
        f"/v1/staff/complaints/{case_id}/messages",
        json={"text": "Which day did you call?", "kind": "information_request"},
        headers=resolution.headers,
    )
    assert sent.status_code == 201, sent.get_json()

    [question] = conversation(client, resident, f"/v1/feedback/{feedback['id']}")
    assert question["from"] == "Resolution Team"
    reply = client.post(
        f"/v1/feedback/{feedback['id']}/messages",
        json={"text": "Tuesday the 3rd.", "in_reply_to": question["id"]},
        headers=resident,
    )
    assert reply.status_code == 201

    case = client.get(f"/v1/staff/complaints/{case_id}", headers=resolution.headers).get_json()
    assert [m["text"] for m in case["messages"]] == ["Which day did you call?", "Tuesday the 3rd."]
    with app.app_context():
        assert db.session.scalar(
            sa.select(Notification.id).where(
                Notification.feedback_id == uuid.UUID(feedback["id"]),
                Notification.event == "information.requested",
            )
        )


def test_a_compliment_takes_no_messages(client, resident):
    feedback = give_feedback(client, resident)
    refused = client.post(
        f"/v1/feedback/{feedback['id']}/messages", json={"text": "Hello?"}, headers=resident
    )
    assert refused.status_code == 409


# --- audit ------------------------------------------------------------------------------------


def test_staff_messages_and_passing_on_are_audited(app, client, resident, reviewer, resolution):
    report = submit(client, resident)
    sent = ask(
        client, reviewer, report["id"], text="Thank you, it is with the council.", kind="message"
    )
    client.post(
        f"/v1/staff/reports/{report['id']}/messages/{sent['id']}/pass-on", headers=reviewer.headers
    )
    feedback = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    case_id = complaint_case_of(app, feedback["id"])
    client.post(
        f"/v1/staff/complaints/{case_id}/messages",
        json={"text": "We are looking into it.", "kind": "message"},
        headers=resolution.headers,
    )
    with app.app_context():
        events = {
            event.action: event
            for event in db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action.like("%message%"))
            )
        }
    assert events["report.message"].after["text"] == "Thank you, it is with the council."
    assert events["report.message"].after["message_id"] == sent["id"]
    assert str(events["report.message"].actor_id) == reviewer.id
    assert events["report.message_pass_on"].after["message_id"] == sent["id"]
    assert events["complaint.message"].after["text"] == "We are looking into it."
    assert str(events["complaint.message"].target_id) == case_id
    with app.app_context():
        assert db.session.scalar(
            sa.select(Notification.id).where(
                Notification.report_id == uuid.UUID(report["id"]),
                Notification.event == "message.received",
            )
        )


# --- who cannot be messaged -------------------------------------------------------------------


def test_a_resident_who_erased_their_data_cannot_be_messaged_and_their_messages_are_gone(
    app, client, resident, reviewer
):
    report = submit(client, resident)
    question = ask(client, reviewer, report["id"])
    client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER, "in_reply_to": question["id"]},
        headers=resident,
    )
    assert client.delete("/v1/me", headers=resident).status_code == 204

    with app.app_context():
        left = db.session.scalars(
            sa.select(ResidentMessage).where(ResidentMessage.report_id == uuid.UUID(report["id"]))
        ).all()
        assert [message.text for message in left] == [QUESTION]  # staff's own words stay
    staff_view = client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer.headers)
    assert ANSWER not in staff_view.get_data(as_text=True)

    refused = client.post(
        f"/v1/staff/reports/{report['id']}/messages",
        json={"text": "Are you still there?", "kind": "message"},
        headers=reviewer.headers,
    )
    assert refused.status_code == 409
    assert "cannot be messaged" in refused.get_json()["detail"]


# --- partners ---------------------------------------------------------------------------------


def test_a_partner_sees_a_message_only_once_staff_pass_it_on(app, client, resident, reviewer):
    report = submit(client, resident)
    question = ask(client, reviewer, report["id"])
    reply = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER, "in_reply_to": question["id"]},
        headers=resident,
    ).get_json()
    with app.app_context():
        referral = db.session.scalar(
            sa.select(Referral).where(Referral.report_id == uuid.UUID(report["id"]))
        )
        referral_id = referral.id
        partner_user = UserFactory(roles=["partner"], partner_id=referral.partner_id)
        email = partner_user.email
    partner = bearer(login(client, email)["access_token"])

    before = client.get(f"/v1/partner/referrals/{referral_id}", headers=partner)
    assert before.status_code == 200
    assert before.get_json()["messages"] == []
    assert ANSWER not in before.get_data(as_text=True)
    assert QUESTION not in before.get_data(as_text=True)

    passed = client.post(
        f"/v1/staff/reports/{report['id']}/messages/{reply['id']}/pass-on",
        headers=reviewer.headers,
    )
    assert passed.status_code == 200
    assert passed.get_json()["passed_to_partner_at"] is not None

    after = client.get(f"/v1/partner/referrals/{referral_id}", headers=partner)
    assert after.get_json()["messages"] == [{"text": ANSWER, "created_at": reply["created_at"]}]
    assert QUESTION not in after.get_data(as_text=True)  # only what was passed on


def test_a_message_of_another_report_cannot_be_passed_on(client, resident, reviewer):
    report = submit(client, resident)
    other = submit(client, resident)
    message = ask(client, reviewer, other["id"])
    response = client.post(
        f"/v1/staff/reports/{report['id']}/messages/{message['id']}/pass-on",
        headers=reviewer.headers,
    )
    assert response.status_code == 404


# --- retries and limits -----------------------------------------------------------------------


def test_a_retried_answer_creates_one_message(app, client, resident):
    report = submit(client, resident)
    headers = {**resident, "Idempotency-Key": "answer-retry-1"}
    body = {"text": "They broke the glass too."}
    first = client.post(f"/v1/reports/{report['id']}/messages", json=body, headers=headers)
    again = client.post(f"/v1/reports/{report['id']}/messages", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(conversation(client, resident, f"/v1/reports/{report['id']}")) == 1


def test_too_many_messages_are_refused_with_retry_after(app, client, resident, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_MESSAGES", "2/hour")
    report = submit(client, resident)
    statuses = [
        client.post(
            f"/v1/reports/{report['id']}/messages", json={"text": f"Note {n}"}, headers=resident
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]
    limited = client.post(
        f"/v1/reports/{report['id']}/messages", json={"text": "Again"}, headers=resident
    )
    assert limited.mimetype == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    assert len(conversation(client, resident, f"/v1/reports/{report['id']}")) == 2


# --- the console ------------------------------------------------------------------------------


def _console_sign_in(app, client, role: str) -> None:
    user = user_with_role(app, role)
    form = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post(
        "/console/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 303


def _csrf(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_console_report_page_shows_the_conversation_and_asks_through_its_form(
    app, client, resident
):
    report = submit(client, resident)
    client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": "They were back again last night."},
        headers=resident,
    )
    _console_sign_in(app, client, "reviewer")
    page = f"/console/reports/{report['id']}"
    sent = client.post(
        f"{page}/messages",
        data={"csrf_token": _csrf(client, page), "text": QUESTION, "kind": "information_request"},
    )
    assert sent.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "Messages with the resident" in html
    assert "They were back again last night." in html
    assert QUESTION in html
    [message] = [
        m
        for m in conversation(client, resident, f"/v1/reports/{report['id']}")
        if m["text"] == QUESTION
    ]
    assert message["awaiting_reply"] is True

    empty = client.post(
        f"{page}/messages", data={"csrf_token": _csrf(client, page), "text": "", "kind": "message"}
    )
    assert empty.status_code == 422


def test_the_console_passes_a_residents_message_on_to_the_partner_once(app, client, resident):
    report = submit(client, resident)
    information = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": ANSWER},
        headers=resident,
    ).get_json()
    _console_sign_in(app, client, "reviewer")
    page = f"/console/reports/{report['id']}"
    pass_on = f"{page}/messages/{information['id']}/pass-on"
    assert f'action="{pass_on}"' in client.get(page).get_data(as_text=True)

    passed = client.post(pass_on, data={"csrf_token": _csrf(client, page)})

    assert passed.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "passed on to the partner" in html
    assert f'action="{pass_on}"' not in html  # no button for what is passed on already
    with app.app_context():
        stored = db.session.get(ResidentMessage, uuid.UUID(information["id"]))
        assert stored.passed_to_partner_at is not None
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "report.message_pass_on")
            )
            == 1
        )


def test_the_console_complaint_page_shows_the_conversation_and_sends_through_its_form(
    app, client, resident
):
    feedback = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    case_id = complaint_case_of(app, feedback["id"])
    _console_sign_in(app, client, "resolution")
    page = f"/console/complaints/{case_id}"
    sent = client.post(
        f"{page}/messages",
        data={
            "csrf_token": _csrf(client, page),
            "text": "We have spoken to the team.",
            "kind": "message",
        },
    )
    assert sent.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "Messages with the complainant" in html
    assert "We have spoken to the team." in html
    [message] = conversation(client, resident, f"/v1/feedback/{feedback['id']}")
    assert message["from"] == "Resolution Team"
