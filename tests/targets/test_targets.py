"""Targets: admins set them; the queue flags what is overdue and sorts by due time; the metrics
API and the quarterly report give the share handled within target."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db, utcnow
from copa.feedback.models import ComplaintCase
from copa.reports.models import Report, TimelineEntry
from copa.routing.models import Referral
from tests.review.support import give_feedback, move, set_report, submit

URL = "/v1/admin/targets"
QUEUE = "/v1/staff/queue"
TARGETS = {
    "report_first_action_hours": 48,
    "category_hours": {"asb": 24},
    "complaint_first_contact_hours": 72,
    "referral_acknowledgement_hours": 12,
}


def put(client, staff, body):
    return client.put(URL, json=body, headers=staff.headers)


def queue(client, staff, **params) -> list[dict]:
    response = client.get(QUEUE, query_string=params, headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def item(items: list[dict], item_id: str) -> dict:
    (found,) = [each for each in items if each["id"] == item_id]
    return found


def hours_ago(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the settings -------------------------------------------------------------------------


def test_defaults_apply_until_an_admin_sets_targets(client, admin):
    body = client.get(URL, headers=admin.headers).get_json()

    assert body["report_first_action_hours"] == 48
    assert body["complaint_first_contact_hours"] == 48
    assert body["referral_acknowledgement_hours"] == 24
    assert body["category_hours"] == {} and body["updated_at"] is None
    asb = next(c for c in body["categories"] if c["code"] == "asb")
    assert asb["hours"] == 48 and asb["own_target"] is False


def test_admin_sets_targets_once_however_often_the_same_put_is_sent(app, client, admin):
    first = put(client, admin, TARGETS)
    again = put(client, admin, TARGETS)

    assert first.status_code == again.status_code == 200
    body = client.get(URL, headers=admin.headers).get_json()
    assert {k: body[k] for k in TARGETS} == TARGETS
    categories = {c["code"]: c for c in body["categories"]}
    assert categories["asb"]["hours"] == 24 and categories["asb"]["own_target"] is True
    assert categories["graffiti"]["hours"] == 48 and categories["graffiti"]["own_target"] is False
    events = list(
        db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "targets.update"))
    )
    assert len(events) == 1  # the repeat changed nothing
    assert events[0].after["category_hours"] == {"asb": 24}
    assert events[0].before["category_hours"] == {}


def test_a_category_left_out_of_the_put_goes_back_to_the_default(client, admin):
    put(client, admin, TARGETS)
    put(client, admin, {**TARGETS, "category_hours": {}})

    body = client.get(URL, headers=admin.headers).get_json()
    asb = next(c for c in body["categories"] if c["code"] == "asb")
    assert asb["hours"] == 48 and asb["own_target"] is False


def test_unknown_category_is_refused_naming_it(client, admin):
    response = put(client, admin, {**TARGETS, "category_hours": {"no_such_thing": 24}})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "no_such_thing" in " ".join(response.get_json()["errors"]["category_hours"])
    assert client.get(URL, headers=admin.headers).get_json()["updated_at"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"report_first_action_hours": 0}, "report_first_action_hours"),
        ({"report_first_action_hours": 1.5}, "report_first_action_hours"),
        ({"complaint_first_contact_hours": True}, "complaint_first_contact_hours"),
        ({"referral_acknowledgement_hours": "24"}, "referral_acknowledgement_hours"),
        ({"referral_acknowledgement_hours": 10**9}, "referral_acknowledgement_hours"),
        ({"category_hours": {"asb": -1}}, "category_hours"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_targets_are_refused_naming_the_field(client, admin, change, field):
    response = put(client, admin, {**TARGETS, **change})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert any(key.startswith(field) for key in response.get_json()["errors"])


def test_a_missing_target_is_refused(client, admin):
    body = {k: v for k, v in TARGETS.items() if k != "complaint_first_contact_hours"}
    response = put(client, admin, body)
    assert response.status_code == 422
    assert "complaint_first_contact_hours" in response.get_json()["errors"]


# --- overdue in the queue -----------------------------------------------------------------


def test_report_waiting_past_its_category_target_is_overdue(app, client, resident, admin):
    put(client, admin, TARGETS)  # asb: 24 hours
    late = submit(client, resident)
    fresh = submit(client, resident, category="graffiti", description="Tags on the wall.")
    set_report(app, late["id"], created_at=hours_ago(26))

    items = queue(client, admin)

    flagged = item(items, late["id"])
    assert flagged["overdue"] is True
    assert 7000 < flagged["overdue_seconds"] < 7400  # two hours past
    due_in = at(flagged["due_at"]) - at(flagged["created_at"])
    assert abs(due_in - timedelta(hours=24)) < timedelta(seconds=1)
    waiting = item(items, fresh["id"])
    assert waiting["overdue"] is False and waiting["overdue_seconds"] is None
    due_in = at(waiting["due_at"]) - at(waiting["created_at"])
    assert abs(due_in - timedelta(hours=48)) < timedelta(seconds=1)


def test_raising_a_target_moves_the_due_time_of_what_waits(app, client, resident, admin):
    report = submit(client, resident)
    set_report(app, report["id"], created_at=hours_ago(30))
    put(client, admin, TARGETS)
    assert item(queue(client, admin), report["id"])["overdue"] is True

    put(client, admin, {**TARGETS, "category_hours": {"asb": 72}})

    assert item(queue(client, admin), report["id"])["overdue"] is False


def test_a_staff_decision_is_the_first_action(app, client, resident, admin):
    report = submit(client, resident)
    set_report(app, report["id"], created_at=hours_ago(100))
    response = move(client, admin, report["id"], to="in_progress")
    assert response.status_code == 200, response.get_json()

    shown = item(queue(client, admin), report["id"])

    assert shown["overdue"] is False and shown["due_at"] is None


def test_a_message_to_the_resident_is_the_first_action(app, client, resident, admin):
    report = submit(client, resident)
    set_report(app, report["id"], created_at=hours_ago(100))
    response = client.post(
        f"/v1/staff/reports/{report['id']}/messages",
        json={"text": "When does it happen?", "kind": "information_request"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.get_json()

    assert item(queue(client, admin), report["id"])["due_at"] is None


def test_a_partner_acknowledgement_is_the_first_action(app, client, resident, admin):
    report = submit(client, resident, category="graffiti", description="Tags on the wall.")
    set_report(app, report["id"], created_at=hours_ago(100))
    assert item(queue(client, admin), report["id"])["overdue"] is True
    referral = db.session.scalar(
        sa.select(Referral).where(Referral.report_id == uuid.UUID(report["id"]))
    )
    assert referral is not None  # graffiti goes to the council of the area
    referral.acknowledged_at = hours_ago(60)
    db.session.commit()

    assert item(queue(client, admin), report["id"])["due_at"] is None


def test_system_routing_and_assignment_are_not_the_first_action(app, client, resident, admin):
    report = submit(client, resident)  # routed by the system on arrival
    set_report(app, report["id"], created_at=hours_ago(100))
    response = client.post(
        f"/v1/staff/reports/{report['id']}/assignment",
        json={"assignee_id": admin.id},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.get_json()

    assert item(queue(client, admin), report["id"])["overdue"] is True


@pytest.mark.parametrize("status", ["closed", "resolved", "duplicate", "rejected"])
def test_a_settled_report_is_never_overdue(app, client, resident, admin, status):
    report = submit(client, resident)
    set_report(app, report["id"], created_at=hours_ago(500), status=status)

    shown = item(queue(client, admin), report["id"])

    assert shown["overdue"] is False and shown["due_at"] is None


def test_a_complaint_waiting_for_first_contact_is_overdue_until_contacted(
    app, client, resident, admin
):
    feedback = give_feedback(client, resident, kind="dissatisfaction", text="Nobody came.")
    case = db.session.scalar(
        sa.select(ComplaintCase).where(ComplaintCase.feedback_id == uuid.UUID(feedback["id"]))
    )
    case.logged_at = hours_ago(50)
    db.session.commit()

    shown = item(queue(client, admin, kind="feedback"), feedback["id"])
    assert shown["overdue"] is True and 7000 < shown["overdue_seconds"] < 7400

    response = client.post(
        f"/v1/staff/complaints/{case.id}/transitions",
        json={"to": "contacted"},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.get_json()
    assert item(queue(client, admin, kind="feedback"), feedback["id"])["due_at"] is None


def test_compliments_have_no_due_time(client, resident, admin):
    feedback = give_feedback(client, resident)
    shown = item(queue(client, admin), feedback["id"])
    assert shown["due_at"] is None and shown["overdue"] is False


def test_sort_by_due_puts_the_most_overdue_first_then_what_is_not_waiting(
    app, client, resident, admin
):
    a_little = submit(client, resident, description="One.")
    most = submit(client, resident, description="Two.")
    not_yet = submit(client, resident, description="Three.")
    done = submit(client, resident, description="Four.")
    set_report(app, a_little["id"], created_at=hours_ago(50))
    set_report(app, most["id"], created_at=hours_ago(90))
    set_report(app, not_yet["id"], created_at=hours_ago(1))
    set_report(app, done["id"], created_at=hours_ago(200))
    move(client, admin, done["id"], to="in_progress")

    order = [each["id"] for each in queue(client, admin, sort="due")]

    assert order == [most["id"], a_little["id"], not_yet["id"], done["id"]]
    # the default order is still the oldest first
    assert [each["id"] for each in queue(client, admin)][0] == done["id"]


def test_unknown_sort_is_refused(client, admin):
    response = client.get(QUEUE, query_string={"sort": "colour"}, headers=admin.headers)
    assert response.status_code == 422
    assert "sort" in response.get_json()["errors"]


def test_a_closed_possible_emergency_no_longer_stays_on_top(app, client, resident, admin):
    older = submit(client, resident, description="Bins set alight again last week.")
    closed = submit(client, resident, description="A man is waving a knife outside the shop.")
    open_one = submit(client, resident, description="Someone is bleeding by the bus stop.")
    set_report(app, closed["id"], status="closed")

    order = [each["id"] for each in queue(client, admin)]

    assert order == [open_one["id"], older["id"], closed["id"]]


# --- within target, per quarter -----------------------------------------------------------

Q3 = datetime(2025, 10, 6, 9, 0, tzinfo=UTC)  # 2025/26 Q3


def _report(client, resident, app, *, acted_after: float | None, **fields) -> str:
    fields.setdefault("description", f"Report {uuid.uuid4().hex[:6]}")
    report = submit(client, resident, **fields)
    set_report(app, report["id"], created_at=Q3)
    if acted_after is not None:
        db.session.add(
            TimelineEntry(
                report_id=uuid.UUID(report["id"]),
                at=Q3 + timedelta(hours=acted_after),
                actor_kind="staff",
                from_status="routed",
                to_status="in_progress",
            )
        )
        db.session.execute(
            sa.update(Report)
            .where(Report.id == uuid.UUID(report["id"]))
            .values(status="in_progress")
        )
        db.session.commit()
    return report["id"]


def _quarter_row(body: dict, label: str) -> dict:
    (row,) = [q for q in body["quarters"] if q["quarter"]["label"] == label]
    return row


def test_metrics_give_the_share_of_reports_first_acted_on_within_target(
    app, client, resident, admin, analyst
):
    put(client, admin, TARGETS)  # asb 24 hours, the rest 48
    for hours in (2, 10, 23):
        _report(client, resident, app, acted_after=hours)  # asb within 24
    _report(client, resident, app, acted_after=30)  # asb late
    _report(client, resident, app, acted_after=None)  # asb never: missed
    _report(client, resident, app, acted_after=30, category="graffiti", description="Tags.")

    response = client.get(
        "/v1/metrics/targets",
        query_string={"from": "2025-10", "to": "2025-12"},
        headers=analyst.headers,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["suppressed"] is False
    assert body["targets"]["category_hours"] == {"asb": 24}
    reports = _quarter_row(body, "2025/26 Q3")["reports"]
    assert reports == {
        "counted": 6,
        "handled": 5,
        "within_target": 4,  # three asb in time and the graffiti within 48 hours
        "percent_within_target": 66.7,
    }


def test_complaints_and_referrals_within_target(app, client, resident, admin, analyst):
    put(client, admin, TARGETS)  # complaints 72 hours, referrals 12
    for contacted_after in (1, 80, None):
        feedback = give_feedback(client, resident, kind="dissatisfaction", text="Rude.")
        case = db.session.scalar(
            sa.select(ComplaintCase).where(ComplaintCase.feedback_id == uuid.UUID(feedback["id"]))
        )
        case.logged_at = Q3
        case.first_contact_at = (
            None if contacted_after is None else Q3 + timedelta(hours=contacted_after)
        )
        db.session.commit()  # before the next request ends this session
    report = submit(client, resident, category="graffiti", description="Tags.")
    referral = db.session.scalar(
        sa.select(Referral).where(Referral.report_id == uuid.UUID(report["id"]))
    )
    referral.sent_at, referral.acknowledged_at = Q3, Q3 + timedelta(hours=3)
    db.session.commit()

    body = client.get(
        "/v1/metrics/targets",
        query_string={"from": "2025-10", "to": "2025-12"},
        headers=analyst.headers,
    ).get_json()

    row = _quarter_row(body, "2025/26 Q3")
    assert row["complaints"] == {
        "counted": 3,
        "handled": 2,
        "within_target": 1,
        "percent_within_target": 33.3,
    }
    assert row["referrals"]["counted"] == 1 and row["referrals"]["within_target"] == 1


def test_the_quarterly_report_suppresses_counts_below_five(app, client, resident, admin, analyst):
    put(client, admin, TARGETS)
    for hours in (1, 2, 3, 4, 5, 6, 7):
        _report(client, resident, app, acted_after=hours)  # seven asb, all in time
    feedback = give_feedback(client, resident, kind="dissatisfaction", text="Rude.")
    case = db.session.scalar(
        sa.select(ComplaintCase).where(ComplaintCase.feedback_id == uuid.UUID(feedback["id"]))
    )
    case.logged_at, case.first_contact_at = Q3, Q3 + timedelta(hours=1)
    db.session.commit()

    response = client.get(
        "/v1/pcc-report", query_string={"year": 2025, "quarter": 3}, headers=analyst.headers
    )

    assert response.status_code == 200, response.get_json()
    section = response.get_json()["within_target"]
    row = next(q for q in section["quarters"] if q["label"] == "2025/26 Q3")
    assert row["reports"] == {
        "counted": 7,
        "handled": 7,
        "within_target": 7,
        "percent_within_target": 100.0,
        "suppressed": False,
    }
    assert row["complaints"] == {  # one complaint: not shown
        "counted": None,
        "handled": None,
        "within_target": None,
        "percent_within_target": None,
        "suppressed": True,
    }
    csv = client.get(
        "/v1/pcc-report",
        query_string={"year": 2025, "quarter": 3},
        headers={**analyst.headers, "Accept": "text/csv"},
    ).get_data(as_text=True)
    assert "within_target,reports.percent_within_target,,2025/26 Q3,100.0" in csv
    assert "within_target,complaints.counted,,2025/26 Q3,\r\n" in csv
