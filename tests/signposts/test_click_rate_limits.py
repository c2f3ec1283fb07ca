"""ACCEPTANCE: a flood of taps is refused (429) past the per-device limit, and past the
per-address limit whoever sends them; what is refused is not counted."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import bearer, register_device
from tests.signposts.support import PROBLEM_JSON, click, clicks_of, rollup_total, signpost_id

FLOODER = {"REMOTE_ADDR": "198.51.100.23"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.99"}


@pytest.fixture
def crimestoppers(app, cleveland) -> str:
    return signpost_id(app, "crimestoppers")


def tap(client, signpost: str, headers=None, environ=None):
    return client.post(
        f"/v1/signposts/{signpost}/clicks",
        json={"event_id": str(uuid.uuid4())},
        headers=headers or {},
        environ_base=environ or FLOODER,
    )


def assert_limited(response) -> None:
    assert response.status_code == 429
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["status"] == 429
    assert int(response.headers["Retry-After"]) > 0


def test_a_flood_from_one_device_is_refused_past_its_limit(app, client, crimestoppers, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "5/minute")
    flooder = bearer(register_device(client)["access_token"])
    answers = [tap(client, crimestoppers, flooder) for _ in range(8)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 3
    assert_limited(answers[-1])
    # Another device at the same address is not held back by the first one's flood.
    other = bearer(register_device(client)["access_token"])
    assert tap(client, crimestoppers, other).status_code == 201
    # Only what was let through was counted.
    assert rollup_total(app, crimestoppers) == 6 and len(clicks_of(app, crimestoppers)) == 6


def test_a_retry_past_the_limit_is_refused_too(app, client, crimestoppers, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "2/minute")
    device = bearer(register_device(client)["access_token"])
    statuses = [click(client, crimestoppers, "6d1f0f0e-3f7c-4c57-9a63-7d0e8f6c9a01", device)]
    statuses += [click(client, crimestoppers, "6d1f0f0e-3f7c-4c57-9a63-7d0e8f6c9a01", device)]
    statuses += [click(client, crimestoppers, "6d1f0f0e-3f7c-4c57-9a63-7d0e8f6c9a01", device)]
    assert [s.status_code for s in statuses] == [201, 200, 429]
    assert rollup_total(app, crimestoppers) == 1


def test_an_unsigned_flood_is_refused_past_the_address_limit(
    app, client, crimestoppers, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "1000/minute")
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS_PER_ADDRESS", "5/minute")
    answers = [tap(client, crimestoppers) for _ in range(7)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 2
    assert_limited(answers[-1])
    # Another address is let through.
    assert tap(client, crimestoppers, environ=ELSEWHERE).status_code == 201
    assert rollup_total(app, crimestoppers) == 6


def test_the_address_limit_holds_whichever_devices_send_the_flood(
    app, client, crimestoppers, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "1000/minute")
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS_PER_ADDRESS", "6/minute")
    devices = [bearer(register_device(client)["access_token"]) for _ in range(4)]
    statuses = [tap(client, crimestoppers, device).status_code for device in devices * 2]
    assert statuses == [201] * 6 + [429] * 2


def test_without_a_token_the_device_limit_is_kept_per_address(
    app, client, crimestoppers, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "3/minute")
    statuses = [tap(client, crimestoppers).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert tap(client, crimestoppers, environ=ELSEWHERE).status_code == 201


def test_a_stale_token_does_not_refuse_a_tap(app, client, crimestoppers, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "1/minute")
    response = tap(client, crimestoppers, {"Authorization": "Bearer not-a-token"})
    assert response.status_code == 201, response.get_json()
    # It was limited by its address, like a tap without a token.
    assert tap(client, crimestoppers).status_code == 429
