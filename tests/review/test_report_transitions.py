"""Staff decisions on reports go through the workflow: one timeline row and one audit event each,
and a move the workflow does not allow changes nothing."""

from __future__ import annotations

import json
import uuid
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent, InternalNote
from copa.auth.models import User
from copa.db import db
from copa.outbox.models import MessageState, OutboxMessage
from copa.outbox.signing import new_secret
from copa.relay.service import run_relay
from copa.reports.models import ReportStatus, TimelineEntry
from copa.reports.workflow import REPORT_TRANSITIONS
from copa.routing.models import Channel, Partner, Referral
from copa.routing.service import UNROUTED_KIND, UNROUTED_NAME
from tests.factories import PartnerFactory, UserFactory, bearer, login, table_counts
from tests.outbox.support import Receiver, use_fast_relay
from tests.review.support import detail, move, partner_id, set_report, submit

ALLOWED = sorted((before, to) for before, targets in REPORT_TRANSITIONS.items() for to in targets)
REFUSED = sorted(
    (before, to)
    for before in REPORT_TRANSITIONS
    for to in ReportStatus
    if to not in REPORT_TRANSITIONS[before]
)
NEEDS_OUTCOME = {"resolved", "closed", "rejected"}
MODELS = (TimelineEntry, AuditEvent, Referral, OutboxMessage, InternalNote)


@pytest.fixture(autouse=True)
def no_repeat_asb_rule(app, monkeypatch):
    monkeypatch.setitem(app.config, "REPEAT_ASB_THRESHOLD", 1000)


def body_for(app, client, resident, to: str) -> dict:
    """What a valid request to move a report to ``to`` carries."""
    body: dict = {"to": to}
    if to == "routed":
        body["partner_id"] = partner_id(app, "middlesbrough-council")
    if to == "duplicate":
        body["duplicate_of"] = submit(client, resident, description="The first report.")["id"]
    if to in NEEDS_OUTCOME:
        body["outcome"] = "no_further_action"
    return body


def referral_states(app, report_id: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Referral.state)
                .where(Referral.report_id == uuid.UUID(report_id))
                .order_by(Referral.sent_at)
            )
        )


@pytest.mark.parametrize(("before", "to"), ALLOWED)
def test_every_allowed_move_writes_one_timeline_row_and_one_audit_event(
    app, client, resident, reviewer, before, to
):
    report = submit(client, resident)
    set_report(app, report["id"], status=before)
    body = body_for(app, client, resident, to)
    timeline_before = len(detail(client, reviewer, report["id"])["timeline"])
    counts = table_counts(app, TimelineEntry, AuditEvent)

    response = move(client, reviewer, report["id"], **body)

    assert response.status_code == 200, response.get_json()
    shown = response.get_json()
    assert shown["status"] == to
    assert len(shown["timeline"]) == timeline_before + 1
    assert shown["timeline"][-1]["from_status"] == before
    assert shown["timeline"][-1]["to_status"] == to
    assert table_counts(app, TimelineEntry, AuditEvent) == {
        "report_timeline": counts["report_timeline"] + 1,
        "audit_event": counts["audit_event"] + 1,
    }
    (event,) = [e for e in shown["audit"] if e["action"] == "report.transition"]
    assert event["before"] == {"status": before} and event["after"]["status"] == to
    assert shown["allowed_transitions"] == sorted(REPORT_TRANSITIONS[to])


@pytest.mark.parametrize(("before", "to"), REFUSED)
def test_every_other_move_is_refused_listing_the_allowed_ones_and_writes_nothing(
    app, client, resident, reviewer, before, to
):
    report = submit(client, resident)
    set_report(app, report["id"], status=before)
    body = body_for(app, client, resident, to)
    counts = table_counts(app, *MODELS)
    referrals = referral_states(app, report["id"])

    response = move(client, reviewer, report["id"], **body)

    assert response.status_code == 409, response.get_json()
    problem = response.get_json()
    assert problem["type"].endswith("/invalid-transition")
    assert problem["allowed"] == sorted(REPORT_TRANSITIONS[before])
    assert table_counts(app, *MODELS) == counts
    assert referral_states(app, report["id"]) == referrals
    assert detail(client, reviewer, report["id"])["status"] == before


def test_rerouting_withdraws_the_open_referral_and_refers_to_the_new_partner(
    app, client, resident, reviewer
):
    report = submit(client, resident)  # to the force control room (partner API only)
    council = partner_id(app, "middlesbrough-council")

    response = move(client, reviewer, report["id"], to="routed", partner_id=council)

    assert response.status_code == 200
    shown = response.get_json()
    force, new = shown["referrals"]
    assert force["state"] == "withdrawn"
    assert new["partner"]["id"] == council and new["state"] == "sent"
    assert shown["destination"] == {"kind": "council", "name": "Middlesbrough Council"}
    assert shown["outcome"] == "referred_to_partner"
    assert shown["timeline"][-1]["public_note"] == "Passed to Middlesbrough Council."
    # Neither partner has a delivery channel: no outbox message, and no withdrawal either.
    assert table_counts(app, OutboxMessage) == {"outbox_message": 0}
    resident_view = client.get(f"/v1/reports/{report['id']}", headers=resident).get_json()
    assert resident_view["destination"]["name"] == "Middlesbrough Council"
    assert resident_view["timeline"][-1]["public_note"] == "Passed to Middlesbrough Council."
    assert "internal_note" not in resident_view["timeline"][-1]


def test_routing_to_the_police_is_passed_to_the_force_control_room_by_default(
    app, client, resident, reviewer
):
    report = submit(client, resident, category="graffiti", description="Tags on the wall.")
    response = move(
        client,
        reviewer,
        report["id"],
        to="routed",
        partner_id=partner_id(app, "force-control-room"),
    )
    assert response.get_json()["outcome"] == "passed_to_force_control_room"
    chosen = move(
        client,
        reviewer,
        report["id"],
        to="routed",
        outcome="signposted",
        partner_id=partner_id(app, "opcc"),
    )
    assert chosen.get_json()["outcome"] == "signposted"


@pytest.mark.parametrize(
    ("channel", "settings", "withdrawal_messages"),
    [
        (Channel.WEBHOOK, {"endpoint_url": "https://hooks.example/copa"}, 1),
        (Channel.EMAIL, {"email_address": "referrals@council.example"}, 1),
        (Channel.OPEN311, {"endpoint_url": "https://311.example/v2", "open311_api_key": "k"}, 0),
        (Channel.NONE, {}, 0),
    ],
)
def test_a_withdrawn_partner_is_told_over_webhook_or_email_but_not_open311(
    app, client, resident, reviewer, channel, settings, withdrawal_messages
):
    with app.app_context():
        first = PartnerFactory(channel=channel, webhook_secrets=[new_secret()], **settings)
        first_id = str(first.id)
    report = submit(client, resident)
    assert move(client, reviewer, report["id"], to="routed", partner_id=first_id).status_code == 200
    counts = table_counts(app, Referral, OutboxMessage)

    response = move(
        client,
        reviewer,
        report["id"],
        to="routed",
        partner_id=partner_id(app, "middlesbrough-council"),
    )

    assert response.status_code == 200
    referrals = {r["partner"]["id"]: r for r in response.get_json()["referrals"]}
    assert referrals[first_id]["state"] == "withdrawn"
    events = [m["event_type"] for m in referrals[first_id]["messages"]]
    created = 0 if channel == Channel.NONE else 1
    assert events == ["referral.created"] * created + ["referral.withdrawn"] * withdrawal_messages
    assert table_counts(app, Referral, OutboxMessage) == {
        "referral": counts["referral"] + 1,  # the new one
        "outbox_message": counts["outbox_message"] + withdrawal_messages,
    }


def test_relay_sends_the_withdrawal_but_not_the_withdrawn_referral(
    app, client, monkeypatch, resident, reviewer
):
    use_fast_relay(monkeypatch, app)
    report = submit(client, resident)
    with Receiver() as receiver:
        with app.app_context():
            partner = PartnerFactory(
                channel=Channel.WEBHOOK,
                endpoint_url=receiver.url + "/hooks",
                webhook_secrets=[new_secret()],
            )
            webhook_partner = str(partner.id)
        move(client, reviewer, report["id"], to="routed", partner_id=webhook_partner)
        move(client, reviewer, report["id"], to="received", public_note="Looking again.")
        with app.app_context():
            run_relay(once=True, owner="test-relay")
        (sent,) = receiver.received
    event = json.loads(sent.body)
    assert event["type"] == "referral.withdrawn"
    assert event["data"]["reference"] == report["reference"]
    with app.app_context():
        states = dict(
            db.session.execute(sa.select(OutboxMessage.event_type, OutboxMessage.state)).all()
        )
    assert states == {
        "referral.created": MessageState.CANCELLED,
        "referral.withdrawn": MessageState.DELIVERED,
    }


def test_a_withdrawal_email_says_stop_and_carries_none_of_the_report(
    app, client, monkeypatch, tmp_path, resident, reviewer
):
    use_fast_relay(monkeypatch, app, MAIL_DIR=str(tmp_path / "mail"), SMTP_URL=None)
    with app.app_context():
        council = PartnerFactory(channel=Channel.EMAIL, email_address="asb@council.example")
        council_id = str(council.id)
    report = submit(client, resident)
    move(client, reviewer, report["id"], to="routed", partner_id=council_id)
    move(client, reviewer, report["id"], to="received", public_note="Looking again.")

    with app.app_context():
        run_relay(once=True, owner="test-relay")

    (eml,) = (tmp_path / "mail").glob("*.eml")  # the referral itself was never sent
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = mail.get_content()
    assert mail["Subject"].startswith("Referral withdrawn " + report["reference"])
    assert "has been withdrawn" in text and "need not act" in text
    assert report["description"] not in text
    with app.app_context():
        referral = db.session.scalar(
            sa.select(Referral).where(Referral.partner_id == uuid.UUID(council_id))
        )
        assert referral.state == "withdrawn"
        assert referral.delivered_at is None  # the notice is not the referral


def test_pulling_a_report_back_withdraws_its_referral_and_leaves_it_unrouted(
    app, client, resident, reviewer
):
    report = submit(client, resident)
    response = move(
        client, reviewer, report["id"], to="received", internal_note="Wrong destination."
    )
    shown = response.get_json()
    assert shown["status"] == "received" and shown["unrouted"] is True
    assert shown["destination"] == {"kind": UNROUTED_KIND, "name": UNROUTED_NAME}
    assert [r["state"] for r in shown["referrals"]] == ["withdrawn"]
    event = shown["audit"][-1]
    assert event["after"]["withdrawn_referral_ids"] == [shown["referrals"][0]["id"]]
    queued = client.get(
        "/v1/staff/queue", query_string={"unrouted": "true"}, headers=reviewer.headers
    )
    assert [item["id"] for item in queued.get_json()["items"]] == [report["id"]]
    # Routed again from there, it is no longer unrouted.
    again = move(
        client,
        reviewer,
        report["id"],
        to="routed",
        partner_id=partner_id(app, "middlesbrough-council"),
    ).get_json()
    assert again["unrouted"] is False and len(again["referrals"]) == 2


def test_rejecting_withdraws_the_referral_and_needs_an_outcome(app, client, resident, reviewer):
    report = submit(client, resident)
    set_report(app, report["id"], status="received")
    refused = move(client, reviewer, report["id"], to="rejected")
    assert refused.status_code == 422
    assert "outcome" in refused.get_json()["errors"]

    shown = move(client, reviewer, report["id"], to="rejected", outcome="signposted").get_json()
    assert shown["status"] == "rejected" and shown["outcome"] == "signposted"
    assert [r["state"] for r in shown["referrals"]] == ["withdrawn"]


@pytest.mark.parametrize("to", ["resolved", "closed", "rejected"])
def test_an_outcome_is_required_to_resolve_close_or_reject(app, client, resident, reviewer, to):
    report = submit(client, resident)
    set_report(app, report["id"], status="received")
    counts = table_counts(app, *MODELS)
    response = move(client, reviewer, report["id"], to=to)
    assert response.status_code == 422
    assert "outcome" in response.get_json()["errors"]
    bad = move(client, reviewer, report["id"], to=to, outcome="made_up")
    assert bad.status_code == 422 and "outcome" in bad.get_json()["errors"]
    assert table_counts(app, *MODELS) == counts


def test_a_report_marked_duplicate_points_at_the_original(app, client, resident, reviewer):
    original = submit(client, resident, description="The first report.")
    second = submit(client, resident, description="The same thing again.")
    third = submit(client, resident, description="And again.")

    shown = move(client, reviewer, second["id"], to="duplicate", duplicate_of=original["id"])
    assert shown.status_code == 200
    body = shown.get_json()
    assert body["status"] == "duplicate" and body["outcome"] == "duplicate"
    assert body["duplicate_of"] == {"id": original["id"], "reference": original["reference"]}
    assert [r["state"] for r in body["referrals"]] == ["withdrawn"]
    assert body["audit"][-1]["after"]["duplicate_of"] == original["id"]

    # A duplicate of a duplicate is a duplicate of the original.
    chained = move(client, reviewer, third["id"], to="duplicate", duplicate_of=second["id"])
    assert chained.get_json()["duplicate_of"]["id"] == original["id"]

    # Back to received for a fresh look: no longer a duplicate of anything.
    back = move(client, reviewer, second["id"], to="received").get_json()
    assert back["duplicate_of"] is None and back["status"] == "received"


def test_a_report_cannot_be_a_duplicate_of_itself_or_of_nothing(app, client, resident, reviewer):
    report = submit(client, resident)
    counts = table_counts(app, *MODELS)
    itself = move(client, reviewer, report["id"], to="duplicate", duplicate_of=report["id"])
    assert itself.status_code == 422 and "duplicate_of" in itself.get_json()["errors"]
    nothing = move(client, reviewer, report["id"], to="duplicate", duplicate_of=str(uuid.uuid4()))
    assert nothing.status_code == 422 and "duplicate_of" in nothing.get_json()["errors"]
    missing = move(client, reviewer, report["id"], to="duplicate")
    assert missing.status_code == 422 and "duplicate_of" in missing.get_json()["errors"]
    assert table_counts(app, *MODELS) == counts


def test_partner_and_duplicate_only_go_with_their_own_move(app, client, resident, reviewer):
    report = submit(client, resident)
    other = submit(client, resident)
    council = partner_id(app, "middlesbrough-council")
    counts = table_counts(app, *MODELS)

    for body, field in [
        ({"to": "in_progress", "partner_id": council}, "partner_id"),
        ({"to": "routed", "partner_id": council, "duplicate_of": other["id"]}, "duplicate_of"),
        ({"to": "routed"}, "partner_id"),
        ({"to": "routed", "partner_id": str(uuid.uuid4())}, "partner_id"),
        ({"to": "shipped"}, "to"),
        ({"to": "closed", "outcome": "duplicate", "colour": "red"}, "colour"),
    ]:
        response = move(client, reviewer, report["id"], **body)
        assert response.status_code == 422, body
        assert field in response.get_json()["errors"], body
    assert table_counts(app, *MODELS) == counts


def test_an_inactive_partner_cannot_be_given_a_report(app, client, resident, reviewer):
    report = submit(client, resident)
    with app.app_context():
        gone = str(PartnerFactory(active=False).id)
    response = move(client, reviewer, report["id"], to="routed", partner_id=gone)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"partner_id": ["No active partner with this id."]}


def test_an_admin_may_move_a_report_and_unknown_reports_are_not_found(
    app, client, resident, admin, reviewer
):
    report = submit(client, resident)
    response = move(client, admin, report["id"], to="closed", outcome="resolved_by_opcc")
    assert response.status_code == 200
    assert response.get_json()["audit"][-1]["actor_roles"] == ["admin"]
    missing = move(client, reviewer, str(uuid.uuid4()), to="closed", outcome="duplicate")
    assert missing.status_code == 404


def test_a_disabled_reviewer_loses_the_right_at_once(app, client, resident):
    report = submit(client, resident)
    with app.app_context():
        user = UserFactory(roles=["reviewer"])
        email, user_id = user.email, user.id
    headers = bearer(login(client, email)["access_token"])
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    response = client.post(
        f"/v1/staff/reports/{report['id']}/transitions",
        json={"to": "closed", "outcome": "no_further_action"},
        headers=headers,
    )
    assert response.status_code in (401, 403)


def test_a_withdrawal_is_not_sent_once_the_partner_has_moved_to_open311(
    app, client, monkeypatch, resident, reviewer
):
    use_fast_relay(monkeypatch, app)
    report = submit(client, resident)
    with app.app_context():
        partner = PartnerFactory(
            channel=Channel.WEBHOOK,
            endpoint_url="https://hooks.example/copa",
            webhook_secrets=[new_secret()],
        )
        moved_id = partner.id
    move(client, reviewer, report["id"], to="routed", partner_id=str(moved_id))
    move(client, reviewer, report["id"], to="received")
    with app.app_context():
        changed = db.session.get(Partner, moved_id)
        changed.channel, changed.open311_api_key = Channel.OPEN311, "key"
        db.session.commit()
        run_relay(once=True, owner="test-relay")
        rows = db.session.execute(
            sa.select(OutboxMessage.event_type, OutboxMessage.state, OutboxMessage.last_error)
        ).all()
    assert sorted(tuple(row) for row in rows) == [
        ("referral.created", MessageState.CANCELLED, "the referral was withdrawn"),
        (
            "referral.withdrawn",
            MessageState.CANCELLED,
            "the partner's channel has no way to withdraw a referral",
        ),
    ]
