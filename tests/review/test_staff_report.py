"""What OPCC staff see of a report: everything, with its referrals' deliveries and audit trail."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from PIL import Image

from copa.outbox.signing import new_secret
from copa.relay.service import run_relay
from copa.routing.models import Channel
from tests.factories import PartnerFactory, bearer, signed_in
from tests.outbox.support import Receiver, use_fast_relay
from tests.review.support import CONTACT, MIDDLEHAVEN, MIDDLEHAVEN_WARD, detail, move, submit


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def upload_photo(client, resident, report_id: str) -> dict:
    response = client.post(
        f"/v1/reports/{report_id}/photos",
        data={"photo": (io.BytesIO(jpeg()), "shelter.jpg", "image/jpeg")},
        headers=resident,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_staff_see_everything_about_a_report_including_its_deliveries_and_audit_trail(
    app, client, monkeypatch, resident, reviewer
):
    use_fast_relay(monkeypatch, app)
    report = submit(
        client,
        resident,
        category="vehicle_asb",
        description="Off-road bikes racing across the park every night.",
        occurred_at="2026-01-10T21:30:00+00:00",
        contact=CONTACT,
        share_contact_with_partner=True,
        would_have_called_101="yes",
    )
    photo = upload_photo(client, resident, report["id"])
    note = client.post(
        f"/v1/staff/reports/{report['id']}/notes",
        json={"text": "Called the resident back."},
        headers=reviewer.headers,
    )
    assert note.status_code == 201

    with Receiver() as receiver:
        with app.app_context():
            partner = PartnerFactory(
                name="Parks Team",
                channel=Channel.WEBHOOK,
                endpoint_url=receiver.url + "/hooks",
                webhook_secrets=[new_secret()],
            )
            partner_id, partner_code = str(partner.id), partner.code
        moved = move(
            client,
            reviewer,
            report["id"],
            to="routed",
            partner_id=partner_id,
            public_note="Passed to the parks team.",
            internal_note="Police asked us to send bikes in parks to the council.",
        )
        assert moved.status_code == 200, moved.get_json()
        with app.app_context():
            run_relay(once=True, owner="test-relay")
        (delivered,) = receiver.received
        assert json.loads(delivered.body)["type"] == "referral.created"

    body = detail(client, reviewer, report["id"])

    assert body["reference"] == report["reference"]
    assert body["status"] == "routed" and body["outcome"] == "referred_to_partner"
    assert body["category"] == {
        "code": "vehicle_asb",
        "name": "Vehicle antisocial behaviour (off-road bikes, nuisance driving)",
    }
    assert body["description"] == "Off-road bikes racing across the park every night."
    assert body["location"] == MIDDLEHAVEN  # exact: staff need it
    assert body["address_text"] == "Bus shelter, Middlesbrough Road"
    assert body["area"]["ward"]["code"] == MIDDLEHAVEN_WARD
    assert body["occurred_at"].startswith("2026-01-10T21:30:00")
    assert body["happening_now"] is False and body["anonymous"] is False
    assert body["contact"] == {**CONTACT, "phone": "+447700900123"}  # staff see E.164
    assert body["share_contact_with_partner"] is True
    assert body["would_have_called_101"] == "yes"
    assert body["possible_emergency"] is False
    assert body["repeat_asb"] is False and body["unrouted"] is False
    assert body["destination"] == {"kind": "council", "name": "Parks Team"}
    assert body["assignee"] is None and body["duplicate_of"] is None

    (shown_photo,) = body["photos"]
    assert shown_photo["id"] == photo["id"]
    assert shown_photo["url"] == f"/v1/staff/reports/{report['id']}/photos/{photo['id']}"
    served = client.get(shown_photo["url"], headers=reviewer.headers)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"

    assert [(row["from_status"], row["to_status"]) for row in body["timeline"]] == [
        (None, "received"),
        ("received", "routed"),  # the submission's own routing, to the force control room
        ("routed", "routed"),  # the reviewer's re-route
    ]
    staff_row = body["timeline"][-1]
    assert staff_row["actor_kind"] == "staff" and staff_row["actor_id"] == reviewer.id
    assert staff_row["outcome"] == "referred_to_partner"
    assert staff_row["public_note"] == "Passed to the parks team."
    assert staff_row["internal_note"] == "Police asked us to send bikes in parks to the council."

    (shown_note,) = body["notes"]
    assert shown_note["text"] == "Called the resident back."
    assert shown_note["author"]["id"] == reviewer.id

    force, parks = body["referrals"]
    assert force["partner"]["code"] == "force-control-room"
    assert force["state"] == "withdrawn"
    assert force["messages"] == []  # the force control room reads the partner API
    assert parks["partner"] == {"id": partner_id, "code": partner_code, "name": "Parks Team"}
    assert parks["state"] == "delivered" and parks["delivered_at"] is not None
    (message,) = parks["messages"]
    assert message["event_type"] == "referral.created" and message["state"] == "delivered"
    assert message["channel"] == "webhook"
    (attempt,) = message["delivery_attempts"]
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200
    assert attempt["duration_ms"] >= 0

    assert body["allowed_transitions"] == [
        "acknowledged",
        "closed",
        "duplicate",
        "in_progress",
        "received",
        "resolved",
        "routed",
    ]
    assert [event["action"] for event in body["audit"]] == ["report.note", "report.transition"]
    transition_event = body["audit"][1]
    assert transition_event["actor_id"] == reviewer.id
    assert transition_event["actor_roles"] == ["reviewer"]
    assert transition_event["before"] == {"status": "routed"}
    assert transition_event["after"]["status"] == "routed"
    assert transition_event["after"]["partner"] == partner_code
    assert transition_event["after"]["withdrawn_referral_ids"] == [force["id"]]


def test_contact_is_null_for_an_anonymous_report(client, resident, reviewer):
    report = submit(client, resident, anonymous=True)
    assert detail(client, reviewer, report["id"])["contact"] is None


def test_unknown_report_is_not_found(client, reviewer):
    missing = client.get(f"/v1/staff/reports/{uuid.uuid4()}", headers=reviewer.headers)
    assert missing.status_code == 404
    assert missing.get_json()["type"].endswith("/report-not-found")


@pytest.mark.parametrize("role", ["resident", "resolution", "analyst", "partner"])
def test_only_reviewers_and_admins_read_a_report(app, client, resident, role):
    report = submit(client, resident)
    headers = bearer(signed_in(app, client, role)["access_token"])
    assert client.get(f"/v1/staff/reports/{report['id']}", headers=headers).status_code == 403
    writes = [
        ("transitions", {"to": "closed", "outcome": "no_further_action"}),
        ("assignment", {"assignee_id": None}),
        ("notes", {"text": "x"}),
        ("redactions", {"description": "x", "reason": "y"}),
    ]
    for path, body in writes:
        response = client.post(
            f"/v1/staff/reports/{report['id']}/{path}", json=body, headers=headers
        )
        assert response.status_code == 403, path
