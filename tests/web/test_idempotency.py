"""Idempotency-Key: a phone that retries from its offline queue creates exactly one thing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from copa.db import db, utcnow
from copa.web import idempotency
from copa.web.models import IdempotencyKey
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, register_device
from tests.probe import count_things, make_probe_app

URL = "/test-probe/things"


@pytest.fixture(scope="module")
def app(database):
    return make_probe_app({**TEST_SETTINGS, "DATABASE_URL": database})


@pytest.fixture
def resident(client):
    return bearer(register_device(client)["access_token"])


def post(client, headers, body, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(URL, json=body, headers={**headers, **extra})


def things(app) -> int:
    with app.app_context():
        return count_things()


def test_retry_after_a_lost_response_replays_it_and_creates_nothing_new(app, client, resident):
    first = post(client, resident, {"name": "bench"}, key="k-1")
    assert first.status_code == 201
    # The phone never saw that answer and sends the same request again.
    again = post(client, resident, {"name": "bench"}, key="k-1")
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert things(app) == 1


def test_same_key_with_json_keys_reordered_is_the_same_request(app, client, resident):
    client.post(
        URL,
        data='{"name": "a", "count": 2}',
        content_type="application/json",
        headers={**resident, "Idempotency-Key": "k-order"},
    )
    again = client.post(
        URL,
        data='{"count": 2,  "name": "a"}',
        content_type="application/json",
        headers={**resident, "Idempotency-Key": "k-order"},
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert things(app) == 1


def test_same_key_with_another_body_is_422(app, client, resident):
    assert post(client, resident, {"name": "one"}, key="k-2").status_code == 201
    response = post(client, resident, {"name": "two"}, key="k-2")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("idempotency-key-reused")
    assert things(app) == 1


def test_same_key_while_the_first_request_runs_is_409(app, client, resident):
    with app.app_context():
        # What a request in progress leaves behind: the key, claimed, with a live lease.
        from copa.web.access import Principal  # noqa: F401 - documents who holds it

        subject = _subject(app, resident)
        db.session.add(
            IdempotencyKey(
                principal=subject,
                key="k-busy",
                request_hash=_hash(app, {"name": "x"}),
                method="POST",
                path=URL,
                lock_token=__import__("uuid").uuid4(),
                locked_until=utcnow() + timedelta(seconds=30),
            )
        )
        db.session.commit()
    response = post(client, resident, {"name": "x"}, key="k-busy")
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("idempotency-key-in-flight")
    assert response.headers["Retry-After"] == "1"
    assert things(app) == 0


def test_a_request_killed_mid_way_leaves_nothing_and_its_retry_creates_one(
    app, client, resident, monkeypatch
):
    class Killed(BaseException):
        """Stands in for SIGKILL: no handler runs, nothing is cleaned up."""

    def die(*args, **kwargs):
        raise Killed()

    # The process dies after the use case committed but before the response was stored.
    monkeypatch.setattr(idempotency, "_complete", die)
    monkeypatch.setattr(idempotency, "_release", lambda claim: None)
    with pytest.raises(Killed):
        post(client, resident, {"name": "crash"}, key="k-crash")
    monkeypatch.undo()
    assert things(app) == 0  # the use case's write() joined the unit that stores the answer

    # Until its lease runs out the key is still held...
    assert post(client, resident, {"name": "crash"}, key="k-crash").status_code == 409
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    # ...then the retry runs, once.
    retry = post(client, resident, {"name": "crash"}, key="k-crash")
    assert retry.status_code == 201
    assert (
        post(client, resident, {"name": "crash"}, key="k-crash").headers["Idempotent-Replayed"]
        == "true"
    )
    assert things(app) == 1


def test_invalid_request_stores_nothing_so_the_corrected_one_can_use_the_key(app, client, resident):
    bad = post(client, resident, {"name": ""}, key="k-fix")
    assert bad.status_code == 422
    good = post(client, resident, {"name": "fixed"}, key="k-fix")
    assert good.status_code == 201
    assert things(app) == 1


def test_server_error_stores_nothing(app, client, resident):
    assert post(client, resident, {"name": "explode"}, key="k-500").status_code == 500
    assert post(client, resident, {"name": "explode"}, key="k-500").status_code == 500
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0


def test_keys_belong_to_one_principal(app, client, resident):
    other = bearer(register_device(client)["access_token"])
    assert post(client, resident, {"name": "mine"}, key="shared-key").status_code == 201
    theirs = post(client, other, {"name": "theirs"}, key="shared-key")
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert things(app) == 2


def test_without_a_key_every_request_creates(app, client, resident):
    post(client, resident, {"name": "a"})
    post(client, resident, {"name": "b"})
    assert things(app) == 2


@pytest.mark.parametrize("key", ["x" * 256, "naïve-key"])
def test_malformed_key_is_400(client, resident, key):
    response = client.post(
        URL,
        json={"name": "a"},
        headers={**resident, "Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["errors"]


def test_purge_keeps_keys_for_at_least_seven_days(app, client, resident):
    post(client, resident, {"name": "old"}, key="k-old")
    post(client, resident, {"name": "new"}, key="k-new")
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.key == "k-old")
            .values(created_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
        assert idempotency.purge_expired() == 1
        assert db.session.scalars(sa.select(IdempotencyKey.key)).all() == ["k-new"]


def _subject(app, headers) -> str:
    import jwt as pyjwt

    token = headers["Authorization"].split()[1]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    return f"device:{claims['sub']}"


def _hash(app, body) -> str:
    with app.test_request_context(URL, method="POST", json=body):
        return idempotency._fingerprint()


def test_a_key_that_changes_hands_while_a_retry_takes_it_over_is_claimed_not_refused(
    app, client, resident, monkeypatch
):
    """After an outage the process that held a key releases it at its next request; another
    process may be taking the same key over at that moment (the .ci outage test saw a 409)."""
    with app.app_context():
        db.session.add(
            IdempotencyKey(
                principal=_subject(app, resident),
                key="k-released",
                request_hash=_hash(app, {"name": "y"}),
                method="POST",
                path=URL,
                lock_token=uuid.uuid4(),
                locked_until=utcnow() + timedelta(seconds=30),
            )
        )
        db.session.commit()

    raced = []

    def changed_meanwhile(row, lease):
        # The first time, the key changes hands between our read and our takeover (on
        # PostgreSQL the holder's process deletes it, or a retry takes it): what we read is no
        # longer what the row holds. SQLite's single writer cannot race; this stands in for it.
        if not raced:
            raced.append(row.lock_token)
            set_committed_value(row, "lock_token", uuid.uuid4())
        return True

    monkeypatch.setattr(idempotency, "_holder_lost", changed_meanwhile)
    response = post(client, resident, {"name": "y"}, key="k-released")

    assert response.status_code == 201
    assert len(raced) == 1
    assert things(app) == 1
    monkeypatch.undo()
    replay = post(client, resident, {"name": "y"}, key="k-released")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert things(app) == 1
