"""The complainant's one answer, once their complaint is closed: how satisfied they are (1-5)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.feedback.models import ComplaintCase
from tests.factories import bearer, login, register_device, table_counts, user_with_role

STAFF_URL = "/v1/staff/complaints"


@pytest.fixture
def resident(client):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def staff(app, client):
    user = user_with_role(app, "resolution")
    return bearer(login(client, user.email)["access_token"])


def complain(app, client, resident) -> tuple[str, str]:
    response = client.post(
        "/v1/feedback", json={"kind": "dissatisfaction", "text": "Rude."}, headers=resident
    )
    assert response.status_code == 201, response.get_json()
    feedback_id = response.get_json()["id"]
    with app.app_context():
        case_id = db.session.scalar(
            sa.select(ComplaintCase.id).where(ComplaintCase.feedback_id == uuid.UUID(feedback_id))
        )
    return feedback_id, str(case_id)


EXTRA = {"closed": {"outcome": "apology_given"}, "escalated": {"reason": "Schedule 3."}}


def move(client, staff, case_id: str, *steps: str) -> None:
    for to in steps:
        body = {"to": to, **EXTRA.get(to, {})}
        response = client.post(f"{STAFF_URL}/{case_id}/transitions", json=body, headers=staff)
        assert response.status_code == 200, response.get_json()


@pytest.fixture
def closed_complaint(app, client, resident, staff) -> str:
    """The resident's complaint, closed by the Resolution Team: its feedback id."""
    feedback_id, case_id = complain(app, client, resident)
    move(client, staff, case_id, "contacted", "resolved", "closed")
    return feedback_id


def answer(client, headers, feedback_id: str, body: dict, key: str | None = None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        f"/v1/feedback/{feedback_id}/satisfaction", json=body, headers={**headers, **extra}
    )


def stored_answer(app, feedback_id: str) -> tuple[int | None, str | None]:
    with app.app_context():
        case = db.session.scalar(
            sa.select(ComplaintCase).where(ComplaintCase.feedback_id == uuid.UUID(feedback_id))
        )
        return case.satisfaction_score, case.satisfaction_comment


def test_a_closed_complaint_invites_the_complainant_to_rate_it(client, resident, closed_complaint):
    complaint = client.get(f"/v1/feedback/{closed_complaint}", headers=resident).get_json()[
        "complaint"
    ]

    assert complaint["state"] == "closed"
    assert complaint["satisfaction_invited"] is True
    assert complaint["satisfaction"] is None


def test_satisfaction_is_stored_and_shown_to_the_complainant_and_staff(
    app, client, resident, staff, closed_complaint
):
    response = answer(client, resident, closed_complaint, {"score": 4, "comment": " Quick. "})

    assert response.status_code == 201, response.get_json()
    complaint = response.get_json()["complaint"]
    assert complaint["satisfaction"]["score"] == 4
    assert complaint["satisfaction"]["comment"] == "Quick."
    assert complaint["satisfaction"]["answered_at"] is not None
    assert complaint["satisfaction_invited"] is False
    assert stored_answer(app, closed_complaint) == (4, "Quick.")
    again = client.get(f"/v1/feedback/{closed_complaint}", headers=resident).get_json()
    assert again["complaint"]["satisfaction"] == complaint["satisfaction"]
    [item] = client.get(f"{STAFF_URL}?state=closed", headers=staff).get_json()["items"]
    case = client.get(f"{STAFF_URL}/{item['id']}", headers=staff).get_json()
    assert case["satisfaction"] == complaint["satisfaction"]


def test_satisfaction_needs_no_comment(app, client, resident, closed_complaint):
    response = answer(client, resident, closed_complaint, {"score": 1})

    assert response.status_code == 201
    assert response.get_json()["complaint"]["satisfaction"]["comment"] is None


def test_a_second_answer_is_409_and_the_first_is_kept(app, client, resident, closed_complaint):
    answer(client, resident, closed_complaint, {"score": 5, "comment": "Great."})

    response = answer(client, resident, closed_complaint, {"score": 1, "comment": "Changed."})

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/satisfaction-already-given")
    assert stored_answer(app, closed_complaint) == (5, "Great.")


@pytest.mark.parametrize("steps", [(), ("contacted",), ("contacted", "resolved"), ("escalated",)])
def test_a_complaint_that_is_not_closed_cannot_be_rated(app, client, resident, staff, steps):
    feedback_id, case_id = complain(app, client, resident)
    move(client, staff, case_id, *steps)

    response = answer(client, resident, feedback_id, {"score": 5})

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/satisfaction-not-invited")
    assert stored_answer(app, feedback_id) == (None, None)
    complaint = client.get(f"/v1/feedback/{feedback_id}", headers=resident).get_json()["complaint"]
    assert complaint["satisfaction_invited"] is False


def test_a_compliment_cannot_be_rated(client, resident):
    feedback_id = client.post(
        "/v1/feedback", json={"kind": "compliment", "text": "Thanks."}, headers=resident
    ).get_json()["id"]

    response = answer(client, resident, feedback_id, {"score": 5})

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/satisfaction-not-invited")


def test_another_residents_complaint_is_404(app, client, closed_complaint):
    stranger = bearer(register_device(client)["access_token"])

    response = answer(client, stranger, closed_complaint, {"score": 1})

    assert response.status_code == 404
    assert stored_answer(app, closed_complaint) == (None, None)


def test_unknown_feedback_is_404(client, resident):
    assert answer(client, resident, str(uuid.uuid4()), {"score": 3}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": 4.5},
        {"score": True},
        {},
        {"score": 3, "comment": "x" * 2001},
        {"score": 3, "mood": "fine"},
    ],
)
def test_score_must_be_a_whole_number_from_1_to_5(app, client, resident, closed_complaint, body):
    response = answer(client, resident, closed_complaint, body)

    assert response.status_code == 422
    assert stored_answer(app, closed_complaint) == (None, None)


def test_the_same_idempotency_key_replays_the_first_answer(app, client, resident, closed_complaint):
    first = answer(client, resident, closed_complaint, {"score": 5}, key="rate-1")
    replay = answer(client, resident, closed_complaint, {"score": 5}, key="rate-1")
    other_body = answer(client, resident, closed_complaint, {"score": 2}, key="rate-1")

    assert first.status_code == replay.status_code == 201
    assert replay.get_json() == first.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert stored_answer(app, closed_complaint) == (5, None)
    assert answer(client, resident, closed_complaint, {"score": 5}, key="rate-2").status_code == 409


def test_answering_is_not_audited(app, client, resident, closed_complaint):
    before = table_counts(app, AuditEvent)

    answer(client, resident, closed_complaint, {"score": 5})

    assert table_counts(app, AuditEvent) == before


@pytest.mark.parametrize("role", ["resolution", "reviewer"])
def test_staff_cannot_answer_for_the_complainant(app, client, closed_complaint, role):
    user = user_with_role(app, role)
    headers = bearer(login(client, user.email)["access_token"])

    assert answer(client, headers, closed_complaint, {"score": 5}).status_code == 403


# --- answers racing each other (committed for real; removed afterwards) -----------------------

THREADS = 8


@pytest.fixture
def closed_case_committed(app):
    """A resident's closed complaint committed for real: (principal, feedback id)."""
    from copa.audit.service import SYSTEM
    from copa.auth.models import Device
    from copa.db import utcnow
    from copa.feedback.models import ComplaintState, Feedback
    from copa.feedback.workflow import complaint_transition
    from copa.web.access import Principal, Role

    with app.app_context():
        device = Device(id=uuid.uuid4(), platform="android", app_version="test")
        feedback = Feedback(
            reference=f"RACE-{uuid.uuid4().hex[:12]}",
            device_id=device.id,
            kind="dissatisfaction",
            text="Racing answers.",
        )
        db.session.add(device)
        db.session.flush()
        feedback.complaint = ComplaintCase(state=ComplaintState.LOGGED, logged_at=utcnow())
        db.session.add(feedback)
        for to in ("contacted", "resolved", "closed"):
            complaint_transition(
                feedback.complaint, to, SYSTEM, outcome="apology_given" if to == "closed" else None
            )
        db.session.commit()
        principal = Principal("device", device.id, frozenset({Role.RESIDENT}), uuid.uuid4())
        feedback_id = feedback.id
    try:
        yield principal, feedback_id
    finally:
        with app.app_context():
            db.session.rollback()
            db.session.execute(sa.delete(Feedback).where(Feedback.id == feedback_id))
            db.session.execute(sa.delete(Device).where(Device.id == principal.id))
            db.session.commit()


@pytest.mark.real_database
def test_answers_sent_at_the_same_moment_store_exactly_one(app, closed_case_committed):
    import threading

    from copa.feedback import service
    from copa.feedback.service import SatisfactionAlreadyGiven

    principal, feedback_id = closed_case_committed
    start = threading.Barrier(THREADS, timeout=30)
    stored: list[int] = []
    refused: list[int] = []
    failures: list[BaseException] = []

    def rate(score: int) -> None:
        try:
            with app.app_context():  # each thread its own session and connection
                start.wait()
                try:
                    service.answer_satisfaction(principal, feedback_id, {"score": score})
                    stored.append(score)
                except SatisfactionAlreadyGiven:
                    refused.append(score)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=rate, args=(1 + n % 5,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads), "an answering thread hung"
    assert failures == []
    assert len(stored) == 1 and len(refused) == THREADS - 1
    assert stored_answer(app, str(feedback_id)) == (stored[0], None)
