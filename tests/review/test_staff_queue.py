"""The staff triage queue: reports and feedback in one list, emergencies first, then oldest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from copa.db import db
from copa.feedback.models import ComplaintCase, Feedback
from tests.factories import bearer, register_device, signed_in
from tests.review.support import (
    HARTLEPOOL,
    MIDDLEHAVEN_WARD,
    MIDDLESBROUGH,
    VICTORIA,
    VICTORIA_WARD,
    give_feedback,
    set_report,
    submit,
)

URL = "/v1/staff/queue"


@pytest.fixture(autouse=True)
def no_repeat_asb_rule(app, monkeypatch):
    """These tests submit many ASB reports from one resident; the rule has its own tests."""
    monkeypatch.setitem(app.config, "REPEAT_ASB_THRESHOLD", 1000)


def queue(client, staff, **params) -> dict:
    response = client.get(URL, query_string=params, headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


def test_possible_emergencies_come_first_then_the_oldest(client, resident, reviewer):
    older = submit(client, resident, description="Bins set alight again last week.")
    feedback = give_feedback(client, resident, kind="suggestion", text="More patrols, please.")
    emergency = submit(client, resident, description="A man is waving a knife outside the shop.")
    newer = submit(client, resident, category="graffiti", description="Tags on the wall.")
    urgent_later = submit(client, resident, description="They are at it now.", happening_now=True)

    page = queue(client, reviewer)

    assert ids(page) == [
        emergency["id"],
        urgent_later["id"],
        older["id"],
        feedback["id"],
        newer["id"],
    ]
    assert page["total"] == 5 and page["page"] == 1 and page["page_size"] == 20
    first = page["items"][0]
    assert first["kind"] == "report" and first["possible_emergency"] is True
    assert first["reference"] == emergency["reference"]
    assert first["status"] == "routed"
    assert first["category"] == {"code": "asb", "name": "Antisocial behaviour"}
    assert first["feedback_kind"] is None
    assert first["area"]["ward"]["code"] == MIDDLEHAVEN_WARD
    assert first["assignee"] is None
    assert first["repeat_asb"] is False and first["unrouted"] is False
    assert first["summary"] == "A man is waving a knife outside the shop."
    listed_feedback = page["items"][3]
    assert listed_feedback["kind"] == "feedback"
    assert listed_feedback["status"] == "received"
    assert listed_feedback["feedback_kind"] == "suggestion"
    assert listed_feedback["category"] is None
    assert listed_feedback["summary"] == "More patrols, please."


def test_queue_is_paginated(client, resident, reviewer):
    made = [submit(client, resident, description=f"Report number {n}")["id"] for n in range(3)]
    first = queue(client, reviewer, page_size=2)
    second = queue(client, reviewer, page_size=2, page=2)
    assert first["total"] == second["total"] == 3
    assert ids(first) + ids(second) == made


def test_summary_is_the_first_140_characters(client, resident, reviewer):
    submit(client, resident, description="x" * 139 + "yz and more")
    (item,) = queue(client, reviewer)["items"]
    assert item["summary"] == "x" * 139 + "y"


def test_filters_by_kind(client, resident, reviewer):
    report = submit(client, resident)
    compliment = give_feedback(client, resident)
    complaint = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")

    assert ids(queue(client, reviewer, kind="report")) == [report["id"]]
    assert ids(queue(client, reviewer, kind="feedback")) == [compliment["id"], complaint["id"]]
    assert ids(queue(client, reviewer, kind="compliment")) == [compliment["id"]]
    assert ids(queue(client, reviewer, kind="dissatisfaction")) == [complaint["id"]]
    assert ids(queue(client, reviewer, kind="suggestion")) == []


def test_filters_by_one_or_more_statuses(app, client, resident, reviewer):
    routed = submit(client, resident)
    received = submit(client, resident)
    set_report(app, received["id"], status="received")
    complaint = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    compliment = give_feedback(client, resident)

    assert ids(queue(client, reviewer, status="routed")) == [routed["id"]]
    both = client.get(f"{URL}?status=received&status=routed", headers=reviewer.headers)
    assert ids(both.get_json()) == [routed["id"], received["id"], compliment["id"]]
    assert ids(queue(client, reviewer, status="logged")) == [complaint["id"]]
    complaint_item = queue(client, reviewer, kind="dissatisfaction")["items"][0]
    assert complaint_item["status"] == "logged"


def test_filters_by_category_ward_and_local_authority(client, resident, reviewer):
    asb = submit(client, resident)
    graffiti = submit(client, resident, category="graffiti", description="Tags on the wall.")
    hartlepool = submit(client, resident, location=VICTORIA)
    hartlepool_feedback = give_feedback(client, resident, location=VICTORIA)

    assert ids(queue(client, reviewer, category="graffiti")) == [graffiti["id"]]
    assert ids(queue(client, reviewer, category="asb")) == [asb["id"], hartlepool["id"]]
    assert ids(queue(client, reviewer, ward=VICTORIA_WARD)) == [
        hartlepool["id"],
        hartlepool_feedback["id"],
    ]
    assert ids(queue(client, reviewer, local_authority=MIDDLESBROUGH)) == [
        asb["id"],
        graffiti["id"],
    ]
    assert queue(client, reviewer, local_authority=HARTLEPOOL)["total"] == 2


def test_filters_by_london_dates_inclusive(app, client, resident, reviewer):
    late_on_the_31st = submit(client, resident)  # 23:30 UTC on 31 May = 00:30 on 1 June, London
    first_of_june = submit(client, resident)
    second_of_june = submit(client, resident)
    set_report(app, late_on_the_31st["id"], created_at=datetime(2026, 5, 31, 23, 30, tzinfo=UTC))
    set_report(app, first_of_june["id"], created_at=datetime(2026, 6, 1, 22, 59, tzinfo=UTC))
    set_report(app, second_of_june["id"], created_at=datetime(2026, 6, 1, 23, 1, tzinfo=UTC))

    assert ids(queue(client, reviewer, **{"from": "2026-06-01", "to": "2026-06-01"})) == [
        late_on_the_31st["id"],
        first_of_june["id"],
    ]
    assert ids(queue(client, reviewer, **{"from": "2026-06-02"})) == [second_of_june["id"]]
    refused = client.get(
        URL, query_string={"from": "2026-06-02", "to": "2026-06-01"}, headers=reviewer.headers
    )
    assert refused.status_code == 422 and "to" in refused.get_json()["errors"]


def test_filters_by_flags(app, client, resident, reviewer):
    plain = submit(client, resident)
    emergency = submit(client, resident, happening_now=True)
    repeat = submit(client, resident)
    unrouted = submit(client, resident)
    set_report(app, repeat["id"], repeat_asb=True)
    set_report(app, unrouted["id"], unrouted=True, status="received")
    feedback = give_feedback(client, resident)

    assert ids(queue(client, reviewer, possible_emergency="true")) == [emergency["id"]]
    assert ids(queue(client, reviewer, repeat_asb="true")) == [repeat["id"]]
    assert ids(queue(client, reviewer, unrouted="true")) == [unrouted["id"]]
    assert ids(queue(client, reviewer, unrouted="false")) == [
        emergency["id"],
        plain["id"],
        repeat["id"],
        feedback["id"],
    ]


def test_filters_by_assignee(app, client, resident, reviewer):
    mine = submit(client, resident)
    nobodys = submit(client, resident)
    complaint = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    set_report(app, mine["id"], assignee_id=uuid.UUID(reviewer.id))
    with app.app_context():
        case = db.session.get(Feedback, uuid.UUID(complaint["id"])).complaint
        db.session.get(ComplaintCase, case.id).assignee_id = uuid.UUID(reviewer.id)
        db.session.commit()

    assert ids(queue(client, reviewer, assignee="me")) == [mine["id"], complaint["id"]]
    assert ids(queue(client, reviewer, assignee=reviewer.id)) == [mine["id"], complaint["id"]]
    assert ids(queue(client, reviewer, assignee="none")) == [nobodys["id"]]
    (item,) = queue(client, reviewer, kind="report", assignee="me")["items"]
    assert item["assignee"]["id"] == reviewer.id
    assert item["assignee"]["display_name"]
    refused = client.get(URL, query_string={"assignee": "someone"}, headers=reviewer.headers)
    assert refused.status_code == 422 and "assignee" in refused.get_json()["errors"]


def test_resolution_team_sees_feedback_but_no_reports(client, resident, resolution):
    submit(client, resident)
    complaint = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")

    assert ids(queue(client, resolution)) == [complaint["id"]]
    assert queue(client, resolution, kind="report") == {
        "items": [],
        "page": 1,
        "page_size": 20,
        "total": 0,
    }


def test_admin_sees_everything(client, resident, admin):
    report = submit(client, resident)
    feedback = give_feedback(client, resident)
    assert ids(queue(client, admin)) == [report["id"], feedback["id"]]


@pytest.mark.parametrize("role", ["resident", "analyst", "partner"])
def test_others_may_not_read_the_queue(app, client, cleveland, role):
    headers = bearer(signed_in(app, client, role)["access_token"])
    assert client.get(URL, headers=headers).status_code == 403


def test_unknown_filter_is_refused(client, reviewer):
    response = client.get(URL, query_string={"colour": "red"}, headers=reviewer.headers)
    assert response.status_code == 422
    assert "colour" in response.get_json()["errors"]


def test_staff_read_a_feedback_with_its_contact_and_complaint_case(
    client, cleveland, reviewer, resolution
):
    resident = bearer(register_device(client)["access_token"])
    complaint = give_feedback(
        client,
        resident,
        kind="dissatisfaction",
        text="The officer was rude to me.",
        officer_identifier="PC 1234",
        incident_date="2026-01-10",
        location=VICTORIA,
        contact={"name": "Sam", "email": "sam@example.org"},
    )
    for staff in (reviewer, resolution):
        response = client.get(f"/v1/staff/feedback/{complaint['id']}", headers=staff.headers)
        assert response.status_code == 200
        body = response.get_json()
        assert body["kind"] == "dissatisfaction"
        assert body["text"] == "The officer was rude to me."
        assert body["officer_identifier"] == "PC 1234"
        assert body["incident_date"] == "2026-01-10"
        assert body["area"]["ward"]["code"] == VICTORIA_WARD
        assert body["contact"] == {"name": "Sam", "email": "sam@example.org", "phone": None}
        assert body["possible_emergency"] is False
        assert body["complaint"]["state"] == "logged"
        assert body["complaint"]["first_contact_at"] is None
        assert set(body["complaint"]) == {"id", "state", "logged_at", "first_contact_at"}

    compliment = give_feedback(client, resident)
    body = client.get(f"/v1/staff/feedback/{compliment['id']}", headers=reviewer.headers)
    assert body.get_json()["complaint"] is None
    missing = client.get(f"/v1/staff/feedback/{uuid.uuid4()}", headers=reviewer.headers)
    assert missing.status_code == 404
    resident_try = client.get(f"/v1/staff/feedback/{compliment['id']}", headers=resident)
    assert resident_try.status_code == 403
