"""The relay's settings from ``COPA_`` variables, the retry schedule they define, and the
``flask copa relay`` command."""

from __future__ import annotations

import pytest

from copa.config import DEFAULTS, ConfigError, settings_from_environment
from copa.outbox.channels import retry_after_seconds
from copa.outbox.signing import new_secret
from copa.relay.service import Relay, RelaySettings
from copa.routing.models import Channel
from tests.outbox.support import Receiver, make_partner, make_referrals, use_fast_relay


def test_the_default_schedule_is_the_contracts_ten_steps():
    # now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
    assert DEFAULTS["RELAY_RETRY_SCHEDULE"] == [
        0,
        5,
        5 * 60,
        30 * 60,
        2 * 3600,
        5 * 3600,
        10 * 3600,
        14 * 3600,
        20 * 3600,
        24 * 3600,
    ]


def test_a_schedule_in_milliseconds_and_fractional_seconds_come_from_the_environment():
    settings = settings_from_environment(
        {
            "COPA_RELAY_RETRY_SCHEDULE": "[0, 0.001, 0.002]",
            "COPA_HTTP_TIMEOUT_SECONDS": "0.25",
            "COPA_RELAY_POLL_SECONDS": "1",
            "COPA_ALLOW_LOOPBACK_TARGETS": "true",
        }
    )
    assert settings == {
        "RELAY_RETRY_SCHEDULE": [0, 0.001, 0.002],
        "HTTP_TIMEOUT_SECONDS": 0.25,
        "RELAY_POLL_SECONDS": 1.0,
        "ALLOW_LOOPBACK_TARGETS": True,
    }


@pytest.mark.parametrize("raw", ["5,300", "[]", "[-1]", '["5"]', "[true]", '{"a": 1}'])
def test_a_schedule_that_is_not_a_list_of_seconds_stops_the_start(raw):
    with pytest.raises(ConfigError, match="COPA_RELAY_RETRY_SCHEDULE"):
        settings_from_environment({"COPA_RELAY_RETRY_SCHEDULE": raw})


def test_waits_follow_the_schedule_lengthened_by_at_most_the_jitter(app, monkeypatch):
    monkeypatch.setitem(app.config, "RELAY_JITTER", 0.1)
    with app.app_context():
        relay = Relay("test-relay", RelaySettings.from_app())

    for position, step in enumerate(DEFAULTS["RELAY_RETRY_SCHEDULE"]):
        waits = [relay.delay(position, None) for _ in range(50)]
        assert all(step <= wait <= step * 1.1 for wait in waits)


def test_a_retry_after_longer_than_the_step_wins_and_a_shorter_one_does_not(app):
    with app.app_context():
        relay = Relay("test-relay", RelaySettings.from_app())

    assert relay.delay(1, 3600) == 3600  # the step is 5 s; the partner asked for an hour
    assert relay.delay(2, 1) >= 300  # never sooner than the schedule says


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120),
        ("0", 0),
        ("999999999", 24 * 3600),  # capped at a day
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0),  # in the past: no extra wait
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_a_lease_always_outlasts_one_request(app, monkeypatch):
    monkeypatch.setitem(app.config, "RELAY_LEASE_SECONDS", 1)
    monkeypatch.setitem(app.config, "HTTP_TIMEOUT_SECONDS", 30.0)
    with app.app_context():
        settings = RelaySettings.from_app()

    assert settings.lease.total_seconds() >= 31


def test_flask_copa_relay_once_delivers_what_is_due_and_says_so(app, monkeypatch):
    use_fast_relay(monkeypatch, app)
    with Receiver() as receiver:
        with app.app_context():
            partner = make_partner(
                channel=Channel.WEBHOOK,
                endpoint_url=receiver.url + "/hooks",
                webhook_secrets=[new_secret()],
            )
            make_referrals(partner, 2)
        result = app.test_cli_runner().invoke(args=["copa", "relay", "--once", "--owner", "cli"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "relay cli started",
        "relay cli: claimed 2, delivered 2, to retry 0, dead 0, cancelled 0, leases lost 0",
    ]
    assert len(receiver.received) == 2
