"""The Resolution Team's complaint cases: the list, a case in full, assignment, the workflow,
service recovery, allegations, internal notes, and what the complainant sees of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from copa.areas.service import import_bundled
from copa.audit.models import AuditEvent
from copa.db import db
from copa.feedback.models import (
    ComplaintCase,
    ComplaintTimelineEntry,
    ServiceRecoveryAction,
)
from copa.feedback.workflow import COMPLAINT_TRANSITIONS
from tests.factories import bearer, login, register_device, table_counts, user_with_role

URL = "/v1/staff/complaints"
STATES = ["logged", "contacted", "service_recovery", "resolved", "escalated", "closed"]
# How to bring a fresh (logged) case into each state through the API.
PATH_TO = {
    "logged": [],
    "contacted": ["contacted"],
    "service_recovery": ["contacted", "service_recovery"],
    "resolved": ["contacted", "resolved"],
    "escalated": ["escalated"],
    "closed": ["contacted", "resolved", "closed"],
}


class Staff:
    def __init__(self, user, headers):
        self.id = str(user.id)
        self.display_name = user.display_name
        self.headers = headers


def staff_member(app, client, role: str, **kwargs) -> Staff:
    user = user_with_role(app, role, **kwargs)
    return Staff(user, bearer(login(client, user.email)["access_token"]))


@pytest.fixture
def resolution(app, client) -> Staff:
    return staff_member(app, client, "resolution")


@pytest.fixture
def resident(client):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def cleveland(app):
    with app.app_context():
        import_bundled()


def complain(client, resident, text="Nobody came when I called.", **extra) -> tuple[str, str]:
    """A resident's expression of dissatisfaction: (feedback id, complaint case id)."""
    response = client.post(
        "/v1/feedback", json={"kind": "dissatisfaction", "text": text, **extra}, headers=resident
    )
    assert response.status_code == 201, response.get_json()
    feedback_id = response.get_json()["id"]
    return feedback_id, case_of(client.application, feedback_id)


def case_of(app, feedback_id: str) -> str:
    with app.app_context():
        return str(
            db.session.scalar(
                sa.select(ComplaintCase.id).where(
                    ComplaintCase.feedback_id == uuid.UUID(feedback_id)
                )
            )
        )


def set_logged_at(app, case_id: str, moment: datetime) -> None:
    with app.app_context():
        case = db.session.get(ComplaintCase, uuid.UUID(case_id))
        case.logged_at = moment
        db.session.commit()


def body_for(to: str, **extra) -> dict:
    body = {"to": to, **extra}
    if to == "escalated":
        body.setdefault("reason", "Alleged assault: a Schedule 3 matter.")
    if to == "closed":
        body.setdefault("outcome", "apology_given")
    return body


def move(client, staff: Staff, case_id: str, to: str, **extra):
    return client.post(
        f"{URL}/{case_id}/transitions", json=body_for(to, **extra), headers=staff.headers
    )


def bring_to(client, staff: Staff, case_id: str, state: str) -> None:
    for step in PATH_TO[state]:
        response = move(client, staff, case_id, step)
        assert response.status_code == 200, response.get_json()


def detail(client, staff: Staff, case_id: str) -> dict:
    response = client.get(f"{URL}/{case_id}", headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def listed(client, staff: Staff, query: str = "") -> list[str]:
    response = client.get(f"{URL}?page_size=100{query}", headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def written(app) -> dict[str, int]:
    return table_counts(app, ComplaintTimelineEntry, AuditEvent, ServiceRecoveryAction)


# --- the list ---------------------------------------------------------------------------------


def test_list_shows_cases_oldest_logged_first_with_reference_and_summary(
    app, client, resident, resolution
):
    long_text = "The officer was rude to me. " * 10
    feedback_a, newer = complain(client, resident, text=long_text)
    _, older = complain(client, resident)
    set_logged_at(app, older, datetime.now(UTC) - timedelta(days=2))

    response = client.get(URL, headers=resolution.headers)

    assert response.status_code == 200
    page = response.get_json()
    assert [item["id"] for item in page["items"]] == [older, newer]
    assert page["total"] == 2
    item = page["items"][1]
    reference = client.get(f"/v1/feedback/{feedback_a}", headers=resident).get_json()["reference"]
    assert item["feedback_id"] == feedback_a
    assert item["reference"] == reference
    assert item["state"] == "logged"
    assert item["summary"] == long_text.strip()[:140]
    assert item["first_contact_at"] is None and item["time_to_first_contact_seconds"] is None
    assert item["assignee"] is None and item["area"] is None
    assert item["allegation_groups"] == []


def test_list_filters_by_one_or_several_states(app, client, resident, resolution):
    _, logged = complain(client, resident)
    _, contacted = complain(client, resident)
    _, escalated = complain(client, resident)
    bring_to(client, resolution, contacted, "contacted")
    bring_to(client, resolution, escalated, "escalated")

    assert listed(client, resolution, "&state=contacted") == [contacted]
    assert sorted(listed(client, resolution, "&state=logged&state=escalated")) == sorted(
        [logged, escalated]
    )
    response = client.get(f"{URL}?state=pending", headers=resolution.headers)
    assert response.status_code == 422
    assert "state.0" in response.get_json()["errors"]


def test_list_filters_by_assignee_me_none_or_a_user(app, client, resident, resolution):
    colleague = staff_member(app, client, "resolution")
    _, mine = complain(client, resident)
    _, theirs = complain(client, resident)
    _, nobodys = complain(client, resident)
    for case_id, who in ((mine, resolution), (theirs, colleague)):
        response = client.post(
            f"{URL}/{case_id}/assignment", json={"assignee_id": who.id}, headers=resolution.headers
        )
        assert response.status_code == 200, response.get_json()

    assert listed(client, resolution, "&assignee=me") == [mine]
    assert listed(client, colleague, "&assignee=me") == [theirs]
    assert listed(client, resolution, "&assignee=none") == [nobodys]
    assert listed(client, resolution, f"&assignee={colleague.id}") == [theirs]
    assert client.get(f"{URL}?assignee=someone", headers=resolution.headers).status_code == 422


def test_list_filters_by_allegation_group_and_shows_the_groups(app, client, resident, resolution):
    _, behaviour = complain(client, resident)
    _, powers = complain(client, resident)
    client.post(
        f"{URL}/{behaviour}/allegations",
        json={"group": "individual_behaviour", "code": "incivility"},
        headers=resolution.headers,
    )
    client.post(
        f"{URL}/{powers}/allegations",
        json={"group": "police_powers_policies_and_procedures", "code": "stop_and_search"},
        headers=resolution.headers,
    )
    client.post(
        f"{URL}/{powers}/allegations",
        json={"group": "individual_behaviour", "code": "incivility"},
        headers=resolution.headers,
    )

    assert listed(
        client, resolution, "&allegation_group=police_powers_policies_and_procedures"
    ) == [powers]
    assert sorted(listed(client, resolution, "&allegation_group=individual_behaviour")) == sorted(
        [behaviour, powers]
    )
    items = client.get(URL, headers=resolution.headers).get_json()["items"]
    groups = {item["id"]: item["allegation_groups"] for item in items}
    assert groups[powers] == ["individual_behaviour", "police_powers_policies_and_procedures"]
    assert client.get(
        f"{URL}?allegation_group=rudeness", headers=resolution.headers
    ).status_code == (422)


def test_list_filters_by_ward_and_local_authority(app, client, resident, resolution, cleveland):
    _, middlehaven = complain(client, resident, area="E05001497")
    _, hartlepool = complain(client, resident, area="E06000001")
    complain(client, resident)

    assert listed(client, resolution, "&ward=E05001497") == [middlehaven]
    assert listed(client, resolution, "&local_authority=E06000002") == [middlehaven]
    assert listed(client, resolution, "&local_authority=E06000001") == [hartlepool]
    item = client.get(f"{URL}?ward=E05001497", headers=resolution.headers).get_json()["items"][0]
    assert item["area"]["ward"] == {"code": "E05001497", "name": "Middlehaven"}
    assert client.get(f"{URL}?ward=Acklam", headers=resolution.headers).status_code == 422


def test_list_filters_by_london_dates_the_case_was_logged_both_inclusive(
    app, client, resident, resolution
):
    _, june = complain(client, resident)
    _, july_first_bst = complain(client, resident)
    _, july_second = complain(client, resident)
    set_logged_at(app, june, datetime(2025, 6, 30, 22, 30, tzinfo=UTC))  # 23:30 BST, 30 June
    set_logged_at(app, july_first_bst, datetime(2025, 6, 30, 23, 30, tzinfo=UTC))  # 00:30 BST
    set_logged_at(app, july_second, datetime(2025, 7, 2, 12, 0, tzinfo=UTC))

    assert listed(client, resolution, "&from=2025-07-01&to=2025-07-01") == [july_first_bst]
    assert listed(client, resolution, "&to=2025-06-30") == [june]
    assert listed(client, resolution, "&from=2025-07-01") == [july_first_bst, july_second]
    response = client.get(f"{URL}?from=2025-07-02&to=2025-07-01", headers=resolution.headers)
    assert response.status_code == 422


def test_list_filters_cases_awaiting_first_contact(app, client, resident, resolution):
    _, waiting = complain(client, resident)
    _, contacted = complain(client, resident)
    _, escalated_unseen = complain(client, resident)
    bring_to(client, resolution, contacted, "contacted")
    bring_to(client, resolution, escalated_unseen, "escalated")

    assert listed(client, resolution, "&awaiting_first_contact=true") == [
        waiting,
        escalated_unseen,
    ]
    assert listed(client, resolution, "&awaiting_first_contact=false") == [contacted]


def test_list_refuses_an_unknown_filter(client, resolution):
    response = client.get(f"{URL}?status=logged", headers=resolution.headers)

    assert response.status_code == 422
    assert "status" in response.get_json()["errors"]


# --- a case in full ---------------------------------------------------------------------------


def test_detail_shows_the_feedback_contact_state_and_what_may_happen_next(
    app, client, resident, resolution, cleveland
):
    feedback_id, case_id = complain(
        client,
        resident,
        text="PC 1234 shouted at me.",
        area="E05001497",
        officer_identifier="1234",
        incident_date="2025-05-01",
        contact={"name": "Sam", "email": "sam@example.org"},
    )

    case = detail(client, resolution, case_id)

    assert case["id"] == case_id and case["feedback_id"] == feedback_id
    assert case["text"] == "PC 1234 shouted at me."
    assert case["incident_date"] == "2025-05-01"
    assert case["officer_identifier"] == "1234"
    assert case["area"]["local_authority"]["code"] == "E06000002"
    assert case["contact"] == {"name": "Sam", "email": "sam@example.org", "phone": None}
    assert case["state"] == "logged" and case["outcome"] is None
    assert case["allowed_transitions"] == ["contacted", "escalated"]
    assert case["timeline"] == [] and case["audit"] == [] and case["notes"] == []
    assert case["allegations"] == [] and case["actions"] == []
    assert case["satisfaction"] is None and case["assignee"] is None
    assert case["escalated_at"] is None and case["closed_at"] is None


def test_detail_shows_no_contact_once_the_resident_erased_their_data(client, resident, resolution):
    _, case_id = complain(client, resident, contact={"email": "sam@example.org"})

    assert client.delete("/v1/me", headers=resident).status_code == 204

    case = detail(client, resolution, case_id)
    assert case["contact"] is None
    assert case["text"] == "Nobody came when I called."


def test_an_unknown_case_is_404(client, resolution):
    response = client.get(f"{URL}/{uuid.uuid4()}", headers=resolution.headers)

    assert response.status_code == 404
    assert response.get_json()["type"].endswith("/complaint-not-found")


# --- assignment -------------------------------------------------------------------------------


def test_case_is_assigned_to_a_resolution_user_and_audited(app, client, resident, resolution):
    colleague = staff_member(app, client, "admin")
    _, case_id = complain(client, resident)

    response = client.post(
        f"{URL}/{case_id}/assignment",
        json={"assignee_id": colleague.id},
        headers=resolution.headers,
    )

    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert case["assignee"] == {"id": colleague.id, "display_name": colleague.display_name}
    [event] = case["audit"]
    assert event["action"] == "complaint.assign"
    assert event["actor_id"] == resolution.id
    assert event["before"] == {"assignee_id": None}
    assert event["after"] == {"assignee_id": colleague.id}

    unassigned = client.post(
        f"{URL}/{case_id}/assignment", json={"assignee_id": None}, headers=resolution.headers
    ).get_json()
    assert unassigned["assignee"] is None
    assert [e["action"] for e in unassigned["audit"]] == ["complaint.assign"] * 2


@pytest.mark.parametrize("who", ["reviewer", "inactive", "unknown"])
def test_case_cannot_be_assigned_to_anyone_but_an_active_resolution_or_admin_user(
    app, client, resident, resolution, who
):
    _, case_id = complain(client, resident)
    if who == "reviewer":
        assignee_id = str(user_with_role(app, "reviewer").id)
    elif who == "inactive":
        assignee_id = str(user_with_role(app, "resolution", active=False).id)
    else:
        assignee_id = str(uuid.uuid4())
    before = written(app)

    response = client.post(
        f"{URL}/{case_id}/assignment", json={"assignee_id": assignee_id}, headers=resolution.headers
    )

    assert response.status_code == 422
    assert "assignee_id" in response.get_json()["errors"]
    assert written(app) == before
    assert detail(client, resolution, case_id)["assignee"] is None


# --- the workflow -----------------------------------------------------------------------------

ALLOWED = [(a, b) for a in STATES for b in STATES if b in COMPLAINT_TRANSITIONS[a]]
REFUSED = [(a, b) for a in STATES for b in STATES if b not in COMPLAINT_TRANSITIONS[a]]


@pytest.mark.parametrize(("from_state", "to"), ALLOWED)
def test_every_allowed_move_writes_one_timeline_row_and_one_audit_event(
    app, client, resident, resolution, from_state, to
):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, from_state)
    before = detail(client, resolution, case_id)
    counts = written(app)

    response = move(client, resolution, case_id, to, public_note="An update for you.")

    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert case["state"] == to
    assert len(case["timeline"]) == len(before["timeline"]) + 1
    assert len(case["audit"]) == len(before["audit"]) + 1
    entry, event = case["timeline"][-1], case["audit"][-1]
    assert (entry["from_state"], entry["to_state"]) == (from_state, to)
    assert entry["actor"] == {"kind": "staff", "id": resolution.id}
    assert entry["public_note"] == "An update for you."
    assert event["action"] == "complaint.transition"
    assert event["before"] == {"state": from_state}
    assert event["after"]["state"] == to
    assert case["allowed_transitions"] == sorted(COMPLAINT_TRANSITIONS[to])
    after = written(app)
    assert after["complaint_timeline"] == counts["complaint_timeline"] + 1
    assert after["audit_event"] == counts["audit_event"] + 1


@pytest.mark.parametrize(("from_state", "to"), REFUSED)
def test_every_other_move_is_409_listing_the_allowed_ones_and_writes_nothing(
    app, client, resident, resolution, from_state, to
):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, from_state)
    counts = written(app)

    response = move(client, resolution, case_id, to)

    assert response.status_code == 409, response.get_json()
    problem = response.get_json()
    assert problem["type"].endswith("/invalid-transition")
    assert problem["allowed"] == sorted(COMPLAINT_TRANSITIONS[from_state])
    assert written(app) == counts
    assert detail(client, resolution, case_id)["state"] == from_state


def test_unknown_state_is_422(client, resident, resolution):
    _, case_id = complain(client, resident)

    response = move(client, resolution, case_id, "reopened")

    assert response.status_code == 422
    assert "to" in response.get_json()["errors"]


def test_moving_an_unknown_case_is_404(client, resolution):
    response = move(client, resolution, str(uuid.uuid4()), "contacted")

    assert response.status_code == 404


# --- first contact ----------------------------------------------------------------------------


def test_first_contact_is_stored_with_the_time_it_took(app, client, resident, resolution):
    _, case_id = complain(client, resident)
    logged = datetime.now(UTC) - timedelta(hours=3)
    set_logged_at(app, case_id, logged)
    contacted = logged + timedelta(minutes=90)

    response = move(client, resolution, case_id, "contacted", contacted_at=contacted.isoformat())

    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert datetime.fromisoformat(case["first_contact_at"]) == contacted
    assert case["time_to_first_contact_seconds"] == 90 * 60
    assert case["audit"][-1]["after"]["first_contact_at"] == contacted.isoformat()
    [item] = client.get(URL, headers=resolution.headers).get_json()["items"]
    assert item["time_to_first_contact_seconds"] == 90 * 60
    with app.app_context():
        stored = db.session.get(ComplaintCase, uuid.UUID(case_id))
        assert stored.first_contact_at == contacted


def test_first_contact_defaults_to_now(client, resident, resolution):
    _, case_id = complain(client, resident)
    before = datetime.now(UTC)

    case = move(client, resolution, case_id, "contacted").get_json()

    first_contact = datetime.fromisoformat(case["first_contact_at"])
    assert before - timedelta(seconds=1) <= first_contact <= datetime.now(UTC)
    assert case["time_to_first_contact_seconds"] >= 0


@pytest.mark.parametrize(
    ("contacted_at", "reason"),
    [
        ("in_the_future", "Must not be in the future."),
        ("before_logging", "Must not be before the case was logged."),
        ("naive", None),
    ],
)
def test_first_contact_time_must_be_aware_past_and_after_logging(
    app, client, resident, resolution, contacted_at, reason
):
    _, case_id = complain(client, resident)
    logged = datetime.now(UTC) - timedelta(hours=1)
    set_logged_at(app, case_id, logged)
    value = {
        "in_the_future": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "before_logging": (logged - timedelta(minutes=1)).isoformat(),
        "naive": (logged + timedelta(minutes=1)).replace(tzinfo=None).isoformat(),
    }[contacted_at]
    counts = written(app)

    response = move(client, resolution, case_id, "contacted", contacted_at=value)

    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["contacted_at"]
    if reason:
        assert errors == [reason]
    assert written(app) == counts
    assert detail(client, resolution, case_id)["first_contact_at"] is None


def test_contacted_at_is_refused_with_any_other_move(app, client, resident, resolution):
    _, case_id = complain(client, resident)

    response = move(
        client, resolution, case_id, "escalated", contacted_at=datetime.now(UTC).isoformat()
    )

    assert response.status_code == 422
    assert response.get_json()["errors"]["contacted_at"] == ["Only when moving to contacted."]


# --- escalation and closing -------------------------------------------------------------------


def test_escalation_needs_a_reason_and_keeps_it(app, client, resident, resolution):
    _, case_id = complain(client, resident)
    counts = written(app)

    refused = client.post(
        f"{URL}/{case_id}/transitions", json={"to": "escalated"}, headers=resolution.headers
    )
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["reason"] == ["Required to escalate."]
    assert written(app) == counts

    case = move(client, resolution, case_id, "escalated", reason="Use of force.").get_json()
    assert case["state"] == "escalated"
    assert case["escalation_reason"] == "Use of force."
    assert case["escalated_at"] is not None
    assert case["audit"][-1]["after"]["reason"] == "Use of force."


def test_reason_is_refused_unless_escalating(client, resident, resolution):
    _, case_id = complain(client, resident)

    response = move(client, resolution, case_id, "contacted", reason="Because.")

    assert response.status_code == 422
    assert response.get_json()["errors"]["reason"] == ["Only when moving to escalated."]


def test_closing_needs_a_known_outcome_and_keeps_it(app, client, resident, resolution):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, "resolved")

    missing = client.post(
        f"{URL}/{case_id}/transitions", json={"to": "closed"}, headers=resolution.headers
    )
    unknown = move(client, resolution, case_id, "closed", outcome="sorted_out")
    assert missing.status_code == 422
    assert missing.get_json()["errors"]["outcome"] == ["Required to close."]
    assert unknown.status_code == 422 and "outcome" in unknown.get_json()["errors"]

    case = move(client, resolution, case_id, "closed", outcome="explanation_given").get_json()
    assert case["state"] == "closed"
    assert case["outcome"] == "explanation_given"
    assert case["closed_at"] is not None
    assert case["timeline"][-1]["outcome"] == "explanation_given"
    assert case["allowed_transitions"] == []


def test_outcome_is_refused_unless_closing(client, resident, resolution):
    _, case_id = complain(client, resident)

    response = move(client, resolution, case_id, "contacted", outcome="apology_given")

    assert response.status_code == 422
    assert response.get_json()["errors"]["outcome"] == ["Only when moving to closed."]


# --- service recovery -------------------------------------------------------------------------


def test_first_action_moves_a_contacted_case_into_service_recovery_with_one_event(
    app, client, resident, resolution
):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, "contacted")
    counts = written(app)

    response = client.post(
        f"{URL}/{case_id}/actions",
        json={"kind": "apology", "note": "Apologised by phone."},
        headers=resolution.headers,
    )

    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert case["state"] == "service_recovery"
    [action] = case["actions"]
    assert action["kind"] == "apology" and action["note"] == "Apologised by phone."
    assert action["actor_id"] == resolution.id
    event = case["audit"][-1]
    assert event["action"] == "complaint.transition"
    assert event["after"]["state"] == "service_recovery"
    assert event["after"]["action"]["kind"] == "apology"
    assert event["after"]["action"]["action_id"] == action["id"]
    assert case["timeline"][-1]["to_state"] == "service_recovery"
    assert written(app) == {
        "complaint_timeline": counts["complaint_timeline"] + 1,
        "audit_event": counts["audit_event"] + 1,
        "service_recovery_action": counts["service_recovery_action"] + 1,
    }


def test_further_actions_in_service_recovery_are_audited_as_actions(
    app, client, resident, resolution
):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, "service_recovery")
    counts = written(app)

    response = client.post(
        f"{URL}/{case_id}/actions", json={"kind": "explanation"}, headers=resolution.headers
    )

    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert case["state"] == "service_recovery"
    assert [a["kind"] for a in case["actions"]] == ["explanation"]
    event = case["audit"][-1]
    assert event["action"] == "complaint.action"
    assert event["after"]["kind"] == "explanation"
    assert written(app) == {
        "complaint_timeline": counts["complaint_timeline"],
        "audit_event": counts["audit_event"] + 1,
        "service_recovery_action": counts["service_recovery_action"] + 1,
    }


@pytest.mark.parametrize("state", ["logged", "resolved", "escalated", "closed"])
def test_actions_are_refused_before_contact_and_after_recovery(
    app, client, resident, resolution, state
):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, state)
    counts = written(app)

    response = client.post(
        f"{URL}/{case_id}/actions", json={"kind": "apology"}, headers=resolution.headers
    )

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/service-recovery-not-allowed")
    assert response.get_json()["state"] == state
    assert written(app) == counts


def test_an_unknown_kind_of_action_is_422(client, resident, resolution):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, "contacted")

    response = client.post(
        f"{URL}/{case_id}/actions", json={"kind": "compensation"}, headers=resolution.headers
    )

    assert response.status_code == 422
    assert "kind" in response.get_json()["errors"]


# --- allegations and notes --------------------------------------------------------------------


def test_allegations_are_added_with_their_group_and_audited(app, client, resident, resolution):
    _, case_id = complain(client, resident)

    response = client.post(
        f"{URL}/{case_id}/allegations",
        json={"group": "individual_behaviour", "code": " incivility ", "description": "Shouted."},
        headers=resolution.headers,
    )
    client.post(
        f"{URL}/{case_id}/allegations",
        json={"group": "delivery_of_duties_and_services", "code": "no_attendance"},
        headers=resolution.headers,
    )

    assert response.status_code == 201, response.get_json()
    case = detail(client, resolution, case_id)
    assert [(a["group"], a["code"], a["description"]) for a in case["allegations"]] == [
        ("individual_behaviour", "incivility", "Shouted."),
        ("delivery_of_duties_and_services", "no_attendance", None),
    ]
    assert case["allegations"][0]["created_by_id"] == resolution.id
    assert [e["action"] for e in case["audit"]] == ["complaint.allegation"] * 2
    assert case["audit"][0]["after"]["group"] == "individual_behaviour"


@pytest.mark.parametrize(
    "body",
    [
        {"group": "rudeness", "code": "x"},
        {"group": "other", "code": ""},
        {"group": "other", "code": "x" * 65},
        {"group": "other"},
    ],
)
def test_an_allegation_needs_a_known_group_and_a_code(client, resident, resolution, body):
    _, case_id = complain(client, resident)

    response = client.post(f"{URL}/{case_id}/allegations", json=body, headers=resolution.headers)

    assert response.status_code == 422


def test_a_closed_case_takes_no_more_allegations(app, client, resident, resolution):
    _, case_id = complain(client, resident)
    bring_to(client, resolution, case_id, "closed")
    counts = written(app)

    response = client.post(
        f"{URL}/{case_id}/allegations",
        json={"group": "other", "code": "late"},
        headers=resolution.headers,
    )

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/complaint-closed")
    assert written(app) == counts
    assert detail(client, resolution, case_id)["allegations"] == []


def test_internal_notes_are_kept_with_their_author_and_audited(client, resident, resolution):
    _, case_id = complain(client, resident)

    response = client.post(
        f"{URL}/{case_id}/notes",
        json={"text": "Complainant prefers a call after 5pm."},
        headers=resolution.headers,
    )

    assert response.status_code == 201, response.get_json()
    [note] = response.get_json()["notes"]
    assert note["text"] == "Complainant prefers a call after 5pm."
    assert note["author"] == {"id": resolution.id, "display_name": resolution.display_name}
    [event] = response.get_json()["audit"]
    assert event["action"] == "complaint.note"
    assert event["after"]["note_id"] == note["id"]


def test_an_empty_note_is_422(client, resident, resolution):
    _, case_id = complain(client, resident)

    response = client.post(
        f"{URL}/{case_id}/notes", json={"text": "  "}, headers=resolution.headers
    )

    assert response.status_code == 422


# --- what the complainant sees ----------------------------------------------------------------


def test_the_complainant_sees_the_state_and_public_notes_but_never_internal_ones(
    client, resident, resolution
):
    feedback_id, case_id = complain(client, resident)
    move(
        client,
        resolution,
        case_id,
        "contacted",
        public_note="We have called you.",
        internal_note="SECRET-TRANSITION-NOTE",
    )
    client.post(
        f"{URL}/{case_id}/notes", json={"text": "SECRET-CASE-NOTE"}, headers=resolution.headers
    )

    response = client.get(f"/v1/feedback/{feedback_id}", headers=resident)

    complaint = response.get_json()["complaint"]
    assert complaint["state"] == "contacted"
    [entry] = complaint["timeline"]
    assert entry == {"at": entry["at"], "state": "contacted", "public_note": "We have called you."}
    assert complaint["satisfaction"] is None and complaint["satisfaction_invited"] is False
    text = response.get_data(as_text=True)
    assert "SECRET" not in text
    assert resolution.id not in text
    listed_text = client.get("/v1/feedback", headers=resident).get_data(as_text=True)
    assert "We have called you." in listed_text and "SECRET" not in listed_text


# --- who may ----------------------------------------------------------------------------------

STAFF_ROUTES = [
    ("get", "", None),
    ("get", "/{id}", None),
    ("post", "/{id}/assignment", {"assignee_id": None}),
    ("post", "/{id}/transitions", {"to": "contacted"}),
    ("post", "/{id}/actions", {"kind": "apology"}),
    ("post", "/{id}/allegations", {"group": "other", "code": "x"}),
    ("post", "/{id}/notes", {"text": "x"}),
]


@pytest.mark.parametrize("role", ["reviewer", "analyst", "partner", "resident"])
def test_only_the_resolution_team_and_admins_work_complaint_cases(app, client, resident, role):
    _, case_id = complain(client, resident)
    headers = resident if role == "resident" else staff_member(app, client, role).headers
    counts = written(app)

    for method, path, body in STAFF_ROUTES:
        response = getattr(client, method)(
            URL + path.format(id=case_id), json=body, headers=headers
        )
        assert response.status_code == 403, (method, path)
    assert written(app) == counts


def test_an_admin_works_complaint_cases(app, client, resident):
    admin = staff_member(app, client, "admin")
    _, case_id = complain(client, resident)

    assert move(client, admin, case_id, "contacted").status_code == 200
    assert listed(client, admin) == [case_id]
