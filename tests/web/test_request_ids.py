"""Request ids and JSON log lines, as an operator following one request through the service
sees them: the id taken from the caller (or made), returned, on every log line of the request,
kept with the outbox messages it created and logged again when the relay sends them; and no
line holding a token or a resident's details."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import sqlalchemy as sa

from copa import create_app
from copa.config import ConfigError
from copa.db import db
from copa.outbox.models import OutboxMessage
from copa.outbox.signing import new_secret
from copa.relay.service import run_relay
from copa.routing.models import RoutingRule
from copa.web.logs import JsonFormatter, accepted_request_id
from tests.factories import PartnerFactory, bearer, load_reference_data, register_device
from tests.outbox.support import Receiver, use_fast_relay

NEW_ID = re.compile(r"[0-9a-f]{32}")
DESCRIPTION = "Zebra-striped tags sprayed over Mrs Ottoline Fairweather's garage door"
EMAIL = "ottoline.fairweather@example.org"
PHONE = "+447700900456"


@pytest.mark.parametrize(
    "offered",
    ["3f2b8c1e-7d4a-4e3b-9b1a-2f6c8d9e0a1b", "req-1234.5:edge", "a", "x" * 128],
)
def test_a_safe_request_id_is_taken_and_returned(client, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    assert response.headers["X-Request-ID"] == offered


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * 129,
        "<script>alert(1)</script>",
        "id with spaces",
        'quote"d',
        "line\\nbreak",
        "ottoline.fairweather@example.org",
        "Bearer abc",
        "",
    ],
)
def test_a_hostile_or_missing_request_id_is_replaced_by_a_new_one(client, hostile):
    headers = {"X-Request-ID": hostile} if hostile else {}
    response = client.get("/healthz", headers=headers)
    made = response.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(made)
    assert made != hostile


def test_each_request_gets_its_own_id_also_when_refused(client):
    first = client.get("/v1/me").headers["X-Request-ID"]  # 401
    second = client.get("/no-such-page").headers["X-Request-ID"]  # 404
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second


def test_a_header_with_a_line_break_is_refused_before_it_becomes_an_id():
    assert NEW_ID.fullmatch(accepted_request_id("abc\r\nSet-Cookie: x=1"))


@pytest.fixture
def json_lines(caplog):
    """Every line the service logs at INFO and above, as the JSON formatter writes it."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="copa")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_one_request_followed_through_the_logs_and_the_outbox(app, client, monkeypatch, json_lines):
    use_fast_relay(monkeypatch, app)
    load_reference_data(app)
    with Receiver() as partner_side:
        with app.app_context():
            partner = PartnerFactory(
                channel="webhook", endpoint_url=partner_side.url, webhook_secrets=[new_secret()]
            )
            db.session.add(
                RoutingRule(
                    category_code="graffiti",
                    area_level="any",
                    answer_code="offensive",
                    answer_value="yes",
                    partner_id=partner.id,
                )
            )
            db.session.commit()
            partner_id = partner.id
        device = register_device(client)
        resident = bearer(device["access_token"])
        request_id = "trace-2026.follow:me"
        report = client.post(
            "/v1/reports",
            json={
                "category": "graffiti",
                "description": DESCRIPTION,
                "location": {"lat": 54.5762, "lon": -1.2348},
                "answers": {"offensive": "yes"},
                "contact": {"name": "Ottoline", "email": EMAIL, "phone": PHONE},
            },
            headers={**resident, "X-Request-ID": request_id},
        )
        assert report.status_code == 201, report.get_json()
        assert report.headers["X-Request-ID"] == request_id

        with app.app_context():
            message = db.session.scalar(
                sa.select(OutboxMessage).where(OutboxMessage.partner_id == partner_id)
            )
            assert message.payload["request_id"] == request_id
            message_id = str(message.id)
            run_relay(once=True, owner="request-id-relay")
        assert len(partner_side.received) == 1

    lines = json_lines()
    assert lines, "nothing was logged"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
    # The request's own line: its route template, status and id.
    served = [line for line in lines if line["logger"] == "copa.request"]
    assert any(
        line["message"].startswith("POST /v1/reports 201") and line["request_id"] == request_id
        for line in served
    )
    # The relay's lines about the message carry the id of the request that made it.
    sending = [line for line in lines if message_id in line["message"]]
    assert sending and all(line.get("request_id") == request_id for line in sending)
    # The partner never sees it: what it receives is built from the referral.
    assert request_id.encode() not in partner_side.received[0].body
    everything = "\n".join(json.dumps(line) for line in lines)
    for personal in (
        DESCRIPTION,
        "Fairweather",
        EMAIL,
        PHONE,
        device["access_token"],
        device["refresh_token"],
        device["device_secret"],
    ):
        assert personal not in everything


def test_the_json_formatter_redacts_credentials_and_keeps_tracebacks_on_one_line(json_lines):
    log = logging.getLogger("copa.test")
    log.warning("calling /v1/unsubscribe/abc.def-ghi?token=s3cret with Bearer eyJhbGciOi.x.y")
    try:
        raise ValueError("api_key=k3y-in-an-exception")
    except ValueError:
        log.exception("failed")

    first, second = json_lines()
    assert "s3cret" not in first["message"] and "abc.def-ghi" not in first["message"]
    assert "eyJhbGciOi" not in first["message"]
    assert "[redacted]" in first["message"]
    assert "request_id" not in first  # outside a request and a relay send
    assert second["message"] == "failed"
    assert "ValueError" in second["exception"] and "k3y-in-an-exception" not in second["exception"]


def test_an_unknown_log_format_stops_the_start():
    with pytest.raises(ConfigError, match="COPA_LOG_FORMAT"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://", "LOG_FORMAT": "xml"})
