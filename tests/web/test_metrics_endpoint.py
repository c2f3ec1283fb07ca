"""GET /metrics as Prometheus and an operator see it: parseable, the outbox backlog as the
database holds it, requests by route template only, and served to this host or a token holder."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.middleware.proxy_fix import ProxyFix

from copa.db import db, utcnow, write
from copa.metrics.reconcile import reconcile
from copa.outbox.models import MessageState, OutboxMessage
from copa.relay.service import run_relay
from copa.routing.models import Channel
from tests.factories import bearer, load_reference_data, register_device
from tests.outbox.support import make_partner, make_referrals, use_fast_relay

TOKEN = "metrics-token-for-the-tests-0123456789abcdef"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: not this host


def scrape(client, **kwargs) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} of a successful scrape."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _message(channel: str, state: str, age: timedelta, **fields) -> OutboxMessage:
    return OutboxMessage(
        event_type="referral.created",
        channel=channel,
        payload={},
        state=state,
        created_at=utcnow() - age,
        next_attempt_at=utcnow() + timedelta(hours=1),  # not due: no relay touches them
        **fields,
    )


def test_the_outbox_figures_are_the_databases(app, client):
    with app.app_context(), write():
        db.session.add_all(
            [
                _message("webhook", MessageState.PENDING, timedelta(hours=2)),
                _message("webhook", MessageState.PENDING, timedelta(minutes=5)),
                _message("webhook", MessageState.DEAD, timedelta(days=2)),
                _message("email", MessageState.DEAD, timedelta(days=1)),
                _message("email", MessageState.DELIVERED, timedelta(days=3)),
                _message("open311", MessageState.CANCELLED, timedelta(days=3)),
                # Held back for the resident's quiet hours: waiting, but not yet due to go.
                _message(
                    "fcm",
                    MessageState.PENDING,
                    timedelta(hours=6),
                    held_until=utcnow() + timedelta(hours=1),
                ),
            ]
        )

    samples = scrape(client)

    with app.app_context():
        rows = db.session.execute(sa.select(OutboxMessage.channel, OutboxMessage.state)).all()
    expected: dict[tuple, float] = {}
    for channel, state in rows:
        if state in (MessageState.PENDING, MessageState.DEAD):
            key = (("channel", channel), ("state", state))
            expected[key] = expected.get(key, 0) + 1
    assert samples["copa_outbox_messages"] == expected
    assert expected[(("channel", "webhook"), ("state", "pending"))] == 2
    assert expected[(("channel", "email"), ("state", "dead"))] == 1
    ages = samples["copa_outbox_oldest_pending_age_seconds"]
    assert 7200 <= ages[(("channel", "webhook"),)] < 7200 + 120
    assert ages[(("channel", "fcm"),)] == 0  # counted from the end of the quiet hours
    assert (("channel", "email"),) not in ages  # nothing pending there
    assert samples["copa_outbox_backlog_readable"] == {(): 1.0}


def test_requests_are_counted_by_route_template_never_by_path(app, client):
    report_id = uuid.uuid4()
    secret_path = "/v1/unsubscribe/" + "s3cret-unsubscribe-token-" + uuid.uuid4().hex
    client.get(f"/v1/reports/{report_id}")  # 401: no token, still counted
    client.get(secret_path)
    client.get("/no-such-page/alice@example.org")

    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    samples = scrape(client)

    requests = samples["copa_http_requests_total"]
    route = (("method", "GET"), ("route", "/v1/reports/<uuid:report_id>"), ("status", "401"))
    assert requests[route] >= 1
    assert any(
        dict(labels)["route"] == "/v1/unsubscribe/<string:unsubscribe_token>" for labels in requests
    )
    assert (("method", "GET"), ("route", "(no route)"), ("status", "404")) in requests
    durations = samples["copa_http_request_duration_seconds_count"]
    assert durations[(("method", "GET"), ("route", "/v1/reports/<uuid:report_id>"))] >= 1
    for leaked in (str(report_id), "s3cret-unsubscribe-token", "alice@example.org"):
        assert leaked not in text


def test_relay_attempts_and_notifications_are_counted_by_channel_and_outcome(
    app, client, monkeypatch
):
    use_fast_relay(monkeypatch, app)
    before = scrape(client)
    with app.app_context():
        # An inactive partner: the relay cancels its message (one attempt, cancelled).
        partner = make_partner(channel=Channel.WEBHOOK, active=False)
        make_referrals(partner, 2)
        # A notification for a push service that is not set up: cancelled too.
        with write():
            db.session.add(
                OutboxMessage(
                    event_type="notification.report.routed",
                    channel="no-such-push",
                    payload={"notification_id": str(uuid.uuid4())},
                )
            )
        run_relay(once=True, owner="metrics-relay")

    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        key = tuple(sorted(labels.items()))
        return after.get(name, {}).get(key, 0) - before.get(name, {}).get(key, 0)

    assert grew("copa_relay_attempts_total", channel="webhook", outcome="cancelled") == 2
    assert grew("copa_relay_attempts_total", channel="no-such-push", outcome="cancelled") == 1
    assert grew("copa_notifications_failed_total", channel="no-such-push", outcome="cancelled") == 1
    assert grew("copa_notifications_sent_total", channel="no-such-push") == 0
    assert grew("copa_notifications_failed_total", channel="webhook", outcome="cancelled") == 0


def test_a_notification_emailed_to_a_resident_is_counted_as_sent(
    app, client, monkeypatch, tmp_path
):
    use_fast_relay(monkeypatch, app, MAIL_DIR=str(tmp_path / "mail"), SMTP_URL=None)
    load_reference_data(app)
    resident = bearer(register_device(client)["access_token"])
    report = client.post(
        "/v1/reports",
        json={
            "category": "fly_tipping",
            "description": "Mattresses dumped behind the shops",
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"size": "small", "waste_type": ["household"]},
            "contact": {"email": "sam@example.org", "notify_by_email": True},
        },
        headers=resident,
    )
    assert report.status_code == 201, report.get_json()
    before = scrape(client)
    with app.app_context():
        run_relay(once=True, owner="metrics-relay")
    after = scrape(client)

    sent = (("channel", "resident_email"),)
    assert after["copa_notifications_sent_total"][sent] == (
        before.get("copa_notifications_sent_total", {}).get(sent, 0) + 1
    )
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1  # and it was really sent
    assert "sam@example.org" not in str(after)


def test_reconcile_runs_and_mismatches_are_counted(app, client):
    before = scrape(client)
    with app.app_context():
        found = reconcile()
    after = scrape(client)

    assert after["copa_reconcile_runs_total"][()] == before["copa_reconcile_runs_total"][()] + 1
    assert after["copa_reconcile_last_mismatches"][()] == len(found.mismatches) == 0


# --- who may scrape -----------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_this_host_scrapes_without_a_token(client, address):
    scrape(client, environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("address", ["203.0.113.7", "::ffff:203.0.113.7", "2001:db8::1", ""])
def test_elsewhere_without_a_token_set_is_refused_even_with_a_bearer(client, address):
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        response = client.get("/metrics", environ_base={"REMOTE_ADDR": address}, headers=headers)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == 403


def test_elsewhere_scrapes_with_the_token_and_only_with_it(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = client.get("/metrics", environ_base=ELSEWHERE, headers=headers)
        assert response.status_code == 401, headers
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in response.get_data(as_text=True)

    samples = scrape(client, environ_base=ELSEWHERE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert "copa_outbox_backlog_readable" in samples


@pytest.mark.parametrize(
    "header", ["X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host"]
)
def test_a_forwarded_request_is_not_loopback(client, header):
    """A reverse proxy on this host forwards everyone's requests from 127.0.0.1."""
    value = "for=127.0.0.1" if header == "Forwarded" else "127.0.0.1"
    response = client.get(
        "/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={header: value}
    )
    assert response.status_code == 403


def test_behind_proxyfix_the_socket_address_decides_not_x_forwarded_for(app, client, monkeypatch):
    # As COPA_PROXY_COUNT=1 sets it up: REMOTE_ADDR rewritten from X-Forwarded-For.
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1))
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    spoofed = client.get(
        "/metrics", environ_base=ELSEWHERE, headers={"X-Forwarded-For": "127.0.0.1"}
    )
    assert spoofed.status_code == 401
    proxied = client.get(
        "/metrics",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        headers={"X-Forwarded-For": "198.51.100.20"},
    )
    assert proxied.status_code == 401
    scrape(
        client,
        environ_base=ELSEWHERE,
        headers={"X-Forwarded-For": "127.0.0.1", "Authorization": f"Bearer {TOKEN}"},
    )
