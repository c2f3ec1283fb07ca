"""A dead delivery is not hidden: when a referral's message dies, its report is flagged for
staff and the resident told, and nothing the resident reads claims it was sent; a staff retry
that gets it there clears the flag."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.notifications.models import Notification
from copa.outbox.models import MessageState, OutboxMessage
from copa.outbox.signing import new_secret
from copa.routing.models import Channel, Referral
from tests.factories import bearer, load_reference_data, register_device
from tests.outbox.support import Receiver, Reply, make_partner, relay_until_settled, use_fast_relay
from tests.review.support import detail, move, partner_id, staff_user, submit


@pytest.fixture(autouse=True)
def _fast_relay(monkeypatch, app):
    use_fast_relay(monkeypatch, app)


class Switchable:
    """A partner endpoint that fails until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False

    def __call__(self, request) -> Reply:
        return Reply(200) if self.fixed else Reply(500, body=b"down for maintenance")


def _routed_to_a_webhook_partner(app, client, receiver):
    """A resident's graffiti report, routed by staff to a webhook partner at ``receiver``."""
    load_reference_data(app)
    resident = bearer(register_device(client)["access_token"])
    reviewer = staff_user(app, client, "reviewer")
    with app.app_context():
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url=receiver.url + "/hooks",
            webhook_secrets=[new_secret()],
        )
        partner_id, partner_name = str(partner.id), partner.name
    report = submit(client, resident, category="graffiti", description="Tags on the underpass wall")
    moved = move(client, reviewer, report["id"], to="routed", partner_id=partner_id)
    assert moved.status_code == 200, moved.get_json()
    return resident, reviewer, report["id"], partner_name


def told_about(app, report_id: str) -> list[str]:
    """What the resident's inbox holds about the report (notification events)."""
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Notification.event)
                .where(Notification.report_id == uuid.UUID(report_id))
                .order_by(Notification.created_at)
            )
        )


def _queue(client, staff, **query):
    response = client.get("/v1/staff/queue", query_string=query, headers=staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_dead_referral_flags_the_report_and_the_resident_is_never_told_it_was_sent(app, client):
    with Receiver(Switchable()) as receiver:
        resident, reviewer, report_id, partner_name = _routed_to_a_webhook_partner(
            app, client, receiver
        )
        other = submit(client, resident, description="Another evening of shouting")
        with app.app_context():
            relay_until_settled()

    mine = client.get(f"/v1/reports/{report_id}", headers=resident).get_json()
    notes = [entry["public_note"] or "" for entry in mine["timeline"]]
    assert not any("Sent to" in note for note in notes), notes
    assert f"Being passed to {partner_name}." in notes
    assert "report.delivery_failed" in told_about(app, report_id)

    flagged = _queue(client, reviewer, delivery_failed="true")
    assert [item["id"] for item in flagged["items"]] == [report_id]
    assert flagged["items"][0]["delivery_failed"] is True
    everything = _queue(client, reviewer, kind="report")
    # Undelivered comes before older reports that went where they should.
    ids = [item["id"] for item in everything["items"]]
    assert ids.index(report_id) == 0 and other["id"] in ids
    assert _queue(client, reviewer, delivery_failed="false")["total"] == everything["total"] - 1
    assert detail(client, reviewer, report_id)["delivery_failed"] is True


def test_a_staff_retry_that_delivers_clears_the_flag(app, client):
    endpoint = Switchable()
    with Receiver(endpoint) as receiver:
        _, reviewer, report_id, _ = _routed_to_a_webhook_partner(app, client, receiver)
        with app.app_context():
            relay_until_settled()
            message_id = db.session.scalar(
                sa.select(OutboxMessage.id)
                .join(Referral, Referral.id == OutboxMessage.referral_id)
                .where(
                    Referral.report_id == uuid.UUID(report_id),
                    OutboxMessage.state == MessageState.DEAD,
                )
            )
        assert detail(client, reviewer, report_id)["delivery_failed"] is True
        endpoint.fixed = True

        retried = client.post(f"/v1/staff/deliveries/{message_id}/retry", headers=reviewer.headers)
        assert retried.status_code == 200, retried.get_json()
        with app.app_context():
            relay_until_settled()

    shown = detail(client, reviewer, report_id)
    assert shown["delivery_failed"] is False
    assert shown["referrals"][-1]["delivered_at"] is not None
    assert _queue(client, reviewer, delivery_failed="true")["total"] == 0


def test_routing_the_report_elsewhere_clears_the_flag(app, client):
    with Receiver(Switchable()) as receiver:
        _, reviewer, report_id, _ = _routed_to_a_webhook_partner(app, client, receiver)
        with app.app_context():
            relay_until_settled()
    assert detail(client, reviewer, report_id)["delivery_failed"] is True
    moved = move(
        client,
        reviewer,
        report_id,
        to="routed",
        partner_id=partner_id(app, "middlesbrough-council"),
    )

    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["delivery_failed"] is False
    assert _queue(client, reviewer, delivery_failed="true")["total"] == 0
