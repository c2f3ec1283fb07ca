"""Open311 deliveries: a small GeoReport v2 sink receives the exact form fields, and the
service_request_id it gives back ends up on the referral."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from copa.contacts.models import Contact
from copa.db import db
from copa.outbox.models import MessageState
from copa.relay.service import run_relay
from copa.routing.models import Channel, Referral, ReferralState
from tests.outbox.support import (
    SLOW_SCHEDULE,
    Received,
    Receiver,
    Reply,
    make_partner,
    make_referrals,
    messages_of,
    relay_until_settled,
    use_fast_relay,
)

API_KEY = "middlesbrough-open311-key"
JURISDICTION = "middlesbrough.gov.uk"


@pytest.fixture(autouse=True)
def _fast_relay(monkeypatch, app):
    use_fast_relay(monkeypatch, app)


class GeoReportSink:
    """POST requests.json answers a service_request_id (or a token, then tokens/{token}.json
    answers the id from the second poll on)."""

    def __init__(self, *, use_tokens: bool = False) -> None:
        self.use_tokens = use_tokens
        self.token_polls = 0

    def __call__(self, request: Received) -> Reply:
        path = urlsplit(request.path).path
        if request.method == "POST" and path == "/open311/v2/requests.json":
            if request.headers["content-type"] != "application/x-www-form-urlencoded":
                return Reply(400, body=b'[{"code":400,"description":"form-encoded only"}]')
            answer = {"token": "tok-123"} if self.use_tokens else {"service_request_id": "SR-638"}
            return Reply(201, {"Content-Type": "application/json"}, json.dumps([answer]).encode())
        if request.method == "GET" and path == "/open311/v2/tokens/tok-123.json":
            self.token_polls += 1
            answer = {"token": "tok-123"}
            if self.token_polls > 1:
                answer["service_request_id"] = "SR-639"
            return Reply(200, {"Content-Type": "application/json"}, json.dumps([answer]).encode())
        return Reply(404, body=b'[{"code":404,"description":"not found"}]')


def open311_partner(receiver: Receiver, **settings):
    return make_partner(
        channel=Channel.OPEN311,
        endpoint_url=receiver.url + "/open311/v2/",
        open311_api_key=API_KEY,
        open311_jurisdiction_id=JURISDICTION,
        **settings,
    )


def test_open311_sink_receives_the_exact_form_fields_and_its_id_lands_on_the_referral(app):
    with Receiver(GeoReportSink()) as receiver, app.app_context():
        partner = open311_partner(receiver, open311_service_codes={"fly_tipping": "FLY-01"})
        (referral,) = make_referrals(
            partner,
            answers={"size": "large", "waste_type": ["household", "tyres"]},
            address_text="Back of 12 Linthorpe Road",
        )
        relay_until_settled()
        referral = db.session.get(Referral, referral.id)
        (message,) = messages_of(partner.id)

    (request,) = receiver.received
    assert request.method == "POST"
    assert parse_qsl(request.body.decode(), keep_blank_values=True) == [
        ("api_key", API_KEY),
        ("jurisdiction_id", JURISDICTION),
        ("service_code", "FLY-01"),
        ("lat", "54.5762"),
        ("long", "-1.2348"),
        ("address_string", "Back of 12 Linthorpe Road"),
        ("description", "Fridge and mattress dumped by the bins"),
        ("attribute[size]", "large"),
        ("attribute[waste_type][]", "household"),
        ("attribute[waste_type][]", "tyres"),
    ]
    assert referral.external_reference == "SR-638"
    assert referral.state == ReferralState.DELIVERED
    assert message.state == MessageState.DELIVERED


def test_the_category_code_is_the_service_code_when_the_partner_maps_none(app):
    with Receiver(GeoReportSink()) as receiver, app.app_context():
        make_referrals(open311_partner(receiver), answers={"size": "small"})
        relay_until_settled()

    fields = dict(parse_qsl(receiver.received[0].body.decode()))
    assert fields["service_code"] == "fly_tipping"


@pytest.mark.parametrize("shared", [True, False])
def test_the_residents_contact_goes_only_when_they_agreed_to_share_it(app, shared):
    with Receiver(GeoReportSink()) as receiver, app.app_context():
        contact = Contact(name="Ada Lovelace", email="ada@example.org", phone="07700 900123")
        make_referrals(
            open311_partner(receiver),
            answers={"size": "small"},
            contact=contact,
            share_contact_with_partner=shared,
        )
        relay_until_settled()

    fields = dict(parse_qsl(receiver.received[0].body.decode()))
    contact_fields = {
        k: v for k, v in fields.items() if k in {"email", "first_name", "last_name", "phone"}
    }
    if shared:
        assert contact_fields == {
            "email": "ada@example.org",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+447700900123",  # E.164, as partners see every number
        }
    else:
        assert contact_fields == {}
        assert "ada" not in receiver.received[0].body.decode().lower()


def test_a_token_answer_is_polled_until_the_service_request_id_is_known(app):
    sink = GeoReportSink(use_tokens=True)
    with Receiver(sink) as receiver, app.app_context():
        partner = open311_partner(receiver)
        (referral,) = make_referrals(partner, answers={"size": "small"})
        relay_until_settled()
        referral = db.session.get(Referral, referral.id)
        messages = messages_of(partner.id)

    assert [(r.method, urlsplit(r.path).path) for r in receiver.received] == [
        ("POST", "/open311/v2/requests.json"),
        ("GET", "/open311/v2/tokens/tok-123.json"),  # not yet
        ("GET", "/open311/v2/tokens/tok-123.json"),
    ]
    assert dict(parse_qsl(urlsplit(receiver.received[1].path).query)) == {
        "api_key": API_KEY,
        "jurisdiction_id": JURISDICTION,
    }
    assert referral.external_reference == "SR-639"
    assert referral.state == ReferralState.DELIVERED
    assert [(m.event_type, m.state) for m in messages] == [
        ("referral.created", MessageState.DELIVERED),
        ("open311.token", MessageState.DELIVERED),
    ]


def test_an_open311_error_answer_is_recorded_and_tried_again_later(app, monkeypatch):
    monkeypatch.setitem(app.config, "RELAY_RETRY_SCHEDULE", SLOW_SCHEDULE)
    error = Reply(400, body=b'[{"code":400,"description":"lat is outside our area"}]')
    with Receiver(lambda request: error) as receiver, app.app_context():
        partner = open311_partner(receiver)
        (referral,) = make_referrals(partner, answers={"size": "small"})
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)
        referral = db.session.get(Referral, referral.id)

    assert len(receiver.received) == 1
    assert message.state == MessageState.PENDING and message.attempts == 1
    assert message.last_error == '400: [{"code":400,"description":"lat is outside our area"}]'
    assert referral.external_reference is None and referral.state == ReferralState.SENT
