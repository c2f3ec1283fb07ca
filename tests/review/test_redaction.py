"""Redaction: what staff remove is gone from every view and later delivery, and kept only in the
admin's audit record."""

from __future__ import annotations

import io
import uuid
from email import message_from_bytes, policy

import pytest
from PIL import Image

from copa.relay.service import run_relay
from copa.routing.models import Channel
from tests.factories import PartnerFactory, UserFactory, bearer, login
from tests.outbox.support import use_fast_relay
from tests.review.support import detail, move, partner_id, submit

ORIGINAL = "Youths outside number 12, Acacia Avenue, Sam Jones's son among them, smashing bottles."
REDACTED = "Youths outside a house on the street, smashing bottles."


def redact(client, staff, report_id: str, **body):
    return client.post(
        f"/v1/staff/reports/{report_id}/redactions", json=body, headers=staff.headers
    )


def partner_headers(app, client, partner_ref) -> dict:
    with app.app_context():
        email = UserFactory(roles=["partner"], partner_id=uuid.UUID(partner_ref)).email
    return bearer(login(client, email)["access_token"])


def upload_photo(client, resident, report_id: str) -> dict:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 120, 30)).save(out, "JPEG")
    response = client.post(
        f"/v1/reports/{report_id}/photos",
        data={"photo": (io.BytesIO(out.getvalue()), "car.jpg", "image/jpeg")},
        headers=resident,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_redacted_description_is_gone_from_every_view_and_delivery_but_kept_for_admins(
    app, client, monkeypatch, tmp_path, resident, reviewer, admin
):
    use_fast_relay(monkeypatch, app, MAIL_DIR=str(tmp_path / "mail"), SMTP_URL=None)
    with app.app_context():
        council = PartnerFactory(
            name="Council ASB Team",
            channel=Channel.EMAIL,
            email_address="asb@council.example",
        )
        council_id = str(council.id)
    partner = partner_headers(app, client, council_id)
    report = submit(client, resident, description=ORIGINAL)
    routed = move(client, reviewer, report["id"], to="routed", partner_id=council_id)
    referral_id = routed.get_json()["referrals"][-1]["id"]

    response = redact(client, reviewer, report["id"], description=REDACTED, reason="Names a child.")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["description"] == REDACTED
    # The email goes out after the redaction: it carries the redacted text.
    with app.app_context():
        run_relay(once=True, owner="test-relay")
    (eml,) = (tmp_path / "mail").glob("*.eml")
    email_text = message_from_bytes(eml.read_bytes(), policy=policy.default).get_content()
    assert REDACTED in email_text and "Acacia" not in eml.read_bytes().decode()

    views = {
        "resident": client.get(f"/v1/reports/{report['id']}", headers=resident),
        "partner": client.get(f"/v1/partner/referrals/{referral_id}", headers=partner),
        "reviewer": client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer.headers),
        "queue": client.get("/v1/staff/queue", headers=reviewer.headers),
    }
    for who, view in views.items():
        assert view.status_code == 200, who
        assert "Acacia" not in view.get_data(as_text=True), who
    for who in ("resident", "partner", "reviewer"):
        assert views[who].get_json()["description"] == REDACTED, who
    assert views["queue"].get_json()["items"][0]["summary"] == REDACTED

    (hidden,) = [e for e in views["reviewer"].get_json()["audit"] if e["action"] == "report.redact"]
    assert hidden["before"] is None and hidden["after"] is None
    assert hidden["actor_id"] == reviewer.id

    audit = client.get(
        "/v1/admin/audit", query_string={"target_id": report["id"]}, headers=admin.headers
    )
    assert audit.status_code == 200
    (kept,) = [e for e in audit.get_json()["items"] if e["action"] == "report.redact"]
    assert kept["before"] == {"description": ORIGINAL}
    assert kept["after"] == {"description": REDACTED, "reason": "Names a child."}
    admin_view = detail(client, admin, report["id"])
    (seen,) = [e for e in admin_view["audit"] if e["action"] == "report.redact"]
    assert seen["before"] == {"description": ORIGINAL}


def test_a_retried_submission_replays_the_redacted_description_not_the_original(
    client, resident, reviewer
):
    body = {
        "category": "asb",
        "description": ORIGINAL,
        "location": {"lat": 54.5762, "lon": -1.2348},
    }
    headers = {**resident, "Idempotency-Key": "offline-queue-7"}
    first = client.post("/v1/reports", json=body, headers=headers)
    assert first.status_code == 201
    redact(client, reviewer, first.get_json()["id"], description=REDACTED, reason="Names a child.")

    replayed = client.post("/v1/reports", json=body, headers=headers)

    assert replayed.status_code == 201
    assert replayed.get_json()["id"] == first.get_json()["id"]  # still no second report
    assert replayed.get_json()["description"] == REDACTED
    assert "Acacia" not in replayed.get_data(as_text=True)


def test_a_redacted_photo_is_gone_for_resident_partner_and_reviewer_but_not_for_admins(
    app, client, resident, reviewer, admin
):
    report = submit(client, resident)
    photo = upload_photo(client, resident, report["id"])
    force = partner_headers(app, client, partner_id(app, "force-control-room"))
    referral_id = detail(client, reviewer, report["id"])["referrals"][0]["id"]
    staff_url = f"/v1/staff/reports/{report['id']}/photos/{photo['id']}"
    urls = {
        "resident": (f"/v1/reports/{report['id']}/photos/{photo['id']}", resident),
        "partner": (f"/v1/partner/photos/{photo['id']}", force),
        "reviewer": (staff_url, reviewer.headers),
        "admin": (staff_url, admin.headers),
    }
    for who, (url, headers) in urls.items():
        assert client.get(url, headers=headers).status_code == 200, who

    response = redact(
        client, reviewer, report["id"], photo_id=photo["id"], reason="A car's number plate."
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["photos"] == []
    for who in ("resident", "partner", "reviewer"):
        url, headers = urls[who]
        assert client.get(url, headers=headers).status_code == 404, who
    kept = client.get(staff_url, headers=admin.headers)
    assert kept.status_code == 200 and kept.mimetype == "image/jpeg"

    resident_view = client.get(f"/v1/reports/{report['id']}", headers=resident).get_json()
    partner_view = client.get(f"/v1/partner/referrals/{referral_id}", headers=force).get_json()
    assert resident_view["photos"] == [] and partner_view["photos"] == []

    audit = client.get(
        "/v1/admin/audit", query_string={"target_id": report["id"]}, headers=admin.headers
    ).get_json()
    (event,) = [e for e in audit["items"] if e["action"] == "report.redact"]
    assert event["before"] == {
        "photo_id": photo["id"],
        "url": staff_url,
        "content_type": "image/jpeg",
        "width": 24,
        "height": 16,
    }
    assert event["after"] == {"reason": "A car's number plate."}

    again = redact(client, reviewer, report["id"], photo_id=photo["id"], reason="Again.")
    assert again.status_code == 404


def test_a_photo_of_another_report_cannot_be_redacted_through_this_one(client, resident, reviewer):
    report = submit(client, resident)
    other = submit(client, resident)
    photo = upload_photo(client, resident, other["id"])
    response = redact(client, reviewer, report["id"], photo_id=photo["id"], reason="x")
    assert response.status_code == 404
    assert len(detail(client, reviewer, other["id"])["photos"]) == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"reason": "x"}, {"description", "photo_id"}),
        ({"description": "a", "photo_id": str(uuid.uuid4()), "reason": "x"}, {"description"}),
        ({"description": "a"}, {"reason"}),
        ({"description": "", "reason": "x"}, {"description"}),
    ],
)
def test_a_redaction_names_exactly_one_thing_and_a_reason(client, resident, reviewer, body, fields):
    report = submit(client, resident)
    response = redact(client, reviewer, report["id"], **body)
    assert response.status_code == 422
    assert fields <= set(response.get_json()["errors"])
    assert detail(client, reviewer, report["id"])["description"] == report["description"]
