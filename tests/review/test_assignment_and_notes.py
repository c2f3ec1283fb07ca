"""Staff assign reports to each other and keep internal notes, each action audited."""

from __future__ import annotations

import uuid

import pytest

from copa.audit.models import AuditEvent
from tests.factories import UserFactory, table_counts
from tests.review.support import detail, staff_user, submit


def assign(client, staff, report_id: str, assignee_id):
    return client.post(
        f"/v1/staff/reports/{report_id}/assignment",
        json={"assignee_id": assignee_id},
        headers=staff.headers,
    )


def test_a_reviewer_assigns_a_report_and_the_queue_shows_it(app, client, resident, reviewer):
    report = submit(client, resident)
    colleague = staff_user(app, client, "admin", display_name="Jo Admin")

    response = assign(client, reviewer, report["id"], colleague.id)

    assert response.status_code == 200
    assert response.get_json()["assignee"] == {"id": colleague.id, "display_name": "Jo Admin"}
    (event,) = [e for e in response.get_json()["audit"] if e["action"] == "report.assign"]
    assert event["before"] == {"assignee_id": None}
    assert event["after"] == {"assignee_id": colleague.id}
    assert event["actor_id"] == reviewer.id
    mine = client.get("/v1/staff/queue?assignee=me", headers=colleague.headers).get_json()
    assert [item["id"] for item in mine["items"]] == [report["id"]]

    cleared = assign(client, reviewer, report["id"], None).get_json()
    assert cleared["assignee"] is None
    assert cleared["audit"][-1]["before"] == {"assignee_id": colleague.id}
    assert cleared["audit"][-1]["after"] == {"assignee_id": None}


@pytest.mark.parametrize(
    "who",
    [
        {"roles": ["resolution"]},
        {"roles": ["analyst"]},
        {"roles": ["reviewer"], "active": False},
        "partner",
        "nobody",
    ],
)
def test_only_an_active_reviewer_or_admin_can_be_assigned(app, client, resident, reviewer, who):
    report = submit(client, resident)
    with app.app_context():
        if who == "nobody":
            assignee_id = str(uuid.uuid4())
        elif who == "partner":
            assignee_id = str(UserFactory(partner_user=True).id)
        else:
            assignee_id = str(UserFactory(**who).id)
    counts = table_counts(app, AuditEvent)

    response = assign(client, reviewer, report["id"], assignee_id)

    assert response.status_code == 422
    assert "assignee_id" in response.get_json()["errors"]
    assert table_counts(app, AuditEvent) == counts
    assert detail(client, reviewer, report["id"])["assignee"] is None


def test_assignment_needs_the_field(client, resident, reviewer):
    report = submit(client, resident)
    response = client.post(
        f"/v1/staff/reports/{report['id']}/assignment", json={}, headers=reviewer.headers
    )
    assert response.status_code == 422 and "assignee_id" in response.get_json()["errors"]


def test_internal_notes_are_kept_in_order_for_staff_only(app, client, resident, reviewer, admin):
    report = submit(client, resident)
    url = f"/v1/staff/reports/{report['id']}/notes"

    first = client.post(url, json={"text": "  Rang the resident.  "}, headers=reviewer.headers)
    second = client.post(url, json={"text": "Spoke to the PCSO."}, headers=admin.headers)

    assert first.status_code == 201
    note = first.get_json()
    assert note["text"] == "Rang the resident."
    assert note["author"]["id"] == reviewer.id and note["at"]
    assert second.status_code == 201
    shown = detail(client, reviewer, report["id"])
    assert [n["text"] for n in shown["notes"]] == ["Rang the resident.", "Spoke to the PCSO."]
    assert [n["author"]["id"] for n in shown["notes"]] == [reviewer.id, admin.id]
    events = [e for e in shown["audit"] if e["action"] == "report.note"]
    assert [e["after"]["note_id"] for e in events] == [note["id"], second.get_json()["id"]]
    # The resident never sees them.
    mine = client.get(f"/v1/reports/{report['id']}", headers=resident).get_data(as_text=True)
    assert "Rang the resident" not in mine and "PCSO" not in mine


def test_a_note_needs_text_and_a_report(client, resident, reviewer):
    report = submit(client, resident)
    empty = client.post(
        f"/v1/staff/reports/{report['id']}/notes", json={"text": "   "}, headers=reviewer.headers
    )
    assert empty.status_code == 422 and "text" in empty.get_json()["errors"]
    missing = client.post(
        f"/v1/staff/reports/{uuid.uuid4()}/notes", json={"text": "x"}, headers=reviewer.headers
    )
    assert missing.status_code == 404
