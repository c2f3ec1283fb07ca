"""Real relay processes (``flask copa relay``) against a database of their own: killed with
SIGKILL mid-batch they lose nothing, and two side by side never deliver one message twice at
the same time."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from copa import create_app
from copa.db import db
from copa.outbox.models import MessageState, OutboxMessage
from copa.outbox.signing import new_secret
from copa.routing.models import Channel, Referral, ReferralState
from tests.conftest import TEST_SETTINGS
from tests.factories import scratch_database as scratch_db
from tests.outbox.support import Receiver, Reply, make_partner, make_referrals

ROOT = Path(__file__).resolve().parents[2]
FAST_SCHEDULE = [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]


@pytest.fixture
def scratch_database(tmp_path):
    """A database of its own (committed data, other processes): SQLite file or PostgreSQL."""
    with scratch_db(tmp_path, "relay") as url:
        yield url


@pytest.fixture
def scratch_app(scratch_database):
    """An application on the scratch database, migrated, for setting up and reading back."""
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": scratch_database})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def relay_environment(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPA_")}
    env.update(
        {
            "COPA_ENV": "testing",
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_DATABASE_URL": database_url,
            "COPA_ALLOW_LOOPBACK_TARGETS": "true",
            "COPA_RELAY_RETRY_SCHEDULE": json.dumps(FAST_SCHEDULE),
            "COPA_RELAY_LEASE_SECONDS": "1",  # a killed relay's messages are free after 1 s
            "COPA_RELAY_POLL_SECONDS": "0.05",
            "COPA_RELAY_BATCH_SIZE": "5",
            "COPA_HTTP_TIMEOUT_SECONDS": "0.5",
            "COPA_LOG_LEVEL": "ERROR",
        }
    )
    env.update({f"COPA_{k}": v for k, v in settings.items()})
    return env


class RelayProcess:
    """``flask copa relay`` in its own process group, output kept in files."""

    def __init__(self, env: dict[str, str], directory: Path, name: str) -> None:
        self.output = directory / f"{name}.out"
        self.errors = directory / f"{name}.err"
        with self.output.open("w") as out, self.errors.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "copa", "relay", "--owner", name],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=out,
                stderr=err,
            )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        """SIGTERM: finish the message in hand, give back the rest, exit; its summary line."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the relay did not stop on SIGTERM") from None
        assert code == 0, self.errors.read_text()[-3000:]
        return self.output.read_text()

    def ensure_dead(self) -> None:
        if self.process.poll() is None:
            self.kill()


def state_counts(app) -> Counter:
    with app.app_context():
        db.session.close()
        rows = db.session.execute(
            sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)
        ).all()
        db.session.close()
    return Counter(dict(rows))


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def webhook_referrals(app, receiver: Receiver, count: int) -> list[uuid.UUID]:
    with app.app_context():
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url=receiver.url + "/hooks",
            webhook_secrets=[new_secret()],
        )
        return [r.id for r in make_referrals(partner, count)]


def delivered_referrals(app) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Referral)
            .where(Referral.state == ReferralState.DELIVERED)
        )
        db.session.close()
    return count


@pytest.mark.slow
def test_relay_killed_mid_batch_and_restarted_delivers_everything(scratch_app, tmp_path):
    total = 60
    lock = threading.Lock()
    received: Counter = Counter()
    hold = threading.Event()  # set: hold the next request until its relay has been killed
    held = threading.Event()
    release = threading.Event()
    held_ids: list[str] = []

    def respond(request) -> Reply:
        message_id = request.headers["webhook-id"]
        with lock:
            received[message_id] += 1
            holding = hold.is_set()
            if holding:
                hold.clear()
                held_ids.append(message_id)
                held.set()
        if holding:
            release.wait(timeout=10)
        else:
            time.sleep(0.01)
        return Reply(200)

    env = relay_environment(scratch_app.config["DATABASE_URL"])
    relays: list[RelayProcess] = []
    with Receiver(respond) as receiver:
        webhook_referrals(scratch_app, receiver, total)
        try:
            for round_ in range(3):
                relay = RelayProcess(env, tmp_path, f"relay-{round_}")
                relays.append(relay)
                target = (round_ + 1) * 12
                wait_for(lambda t=target: sum(received.values()) >= t, 60, "deliveries")
                held.clear()
                hold.set()
                assert held.wait(timeout=30), "no request came to hold"
                relay.kill()  # SIGKILL while the partner has a request in hand, mid-batch
                release.set()
                release = threading.Event()
            assert 0 < state_counts(scratch_app)[MessageState.DELIVERED] < total

            survivor = RelayProcess(env, tmp_path, "relay-survivor")
            relays.append(survivor)
            wait_for(
                lambda: state_counts(scratch_app)[MessageState.DELIVERED] == total,
                60,
                "every message delivered",
            )
            survivor.stop()
        finally:
            release.set()
            for relay in relays:
                relay.ensure_dead()

    assert state_counts(scratch_app) == Counter({MessageState.DELIVERED: total})
    assert delivered_referrals(scratch_app) == total
    assert len(received) == total  # every message reached the partner
    # Those in the partner's hands when their relay died were sent again.
    assert len(held_ids) == 3
    assert all(received[message_id] >= 2 for message_id in held_ids)


@pytest.mark.slow
def test_two_relays_never_deliver_the_same_message_at_the_same_time(scratch_app, tmp_path):
    total = 200
    rng = random.Random(4242)
    lock = threading.Lock()
    in_flight: set[str] = set()
    overlaps: list[str] = []
    received: Counter = Counter()
    long_transactions: list[int] = []
    postgres = scratch_app.config["DATABASE_URL"].startswith("postgresql")
    monitor = sa.create_engine(scratch_app.config["DATABASE_URL"]) if postgres else None

    def idle_transactions() -> set[tuple[int, object]]:
        """Relay connections idle in a transaction now: (backend, when it began) (PostgreSQL)."""
        with monitor.connect() as conn:
            return set(
                conn.execute(
                    sa.text(
                        "SELECT pid, xact_start FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND state LIKE 'idle in transaction%'"
                    )
                ).all()
            )

    def respond(request) -> Reply:
        message_id = request.headers["webhook-id"]
        with lock:
            received[message_id] += 1
            if message_id in in_flight:
                overlaps.append(message_id)
            in_flight.add(message_id)
            roll, sample = rng.random(), sum(received.values()) % 40 == 0
        try:
            if postgres and sample:
                # A transaction held over this call is idle, the same one, before and after it
                # (one that merely ran long on a busy machine is not idle at both moments).
                before = idle_transactions()
                time.sleep(0.2)
                long_transactions.append(len(before & idle_transactions()))
            else:
                time.sleep(0.005)
        finally:
            with lock:
                in_flight.discard(message_id)
        return Reply(503) if roll < 0.2 else Reply(200)

    env = relay_environment(scratch_app.config["DATABASE_URL"])
    with Receiver(respond) as receiver:
        relays = [RelayProcess(env, tmp_path, name) for name in ("relay-a", "relay-b")]
        try:
            # Both relays up and polling before there is anything to deliver.
            wait_for(lambda: all("started" in r.output.read_text() for r in relays), 60, "relays")
            webhook_referrals(scratch_app, receiver, total)
            wait_for(
                lambda: state_counts(scratch_app)[MessageState.DELIVERED] == total,
                90,
                "every message delivered",
            )
            summaries = [relay.stop() for relay in relays]
        finally:
            for relay in relays:
                relay.ensure_dead()
            if monitor is not None:
                monitor.dispose()

    assert overlaps == []
    assert state_counts(scratch_app) == Counter({MessageState.DELIVERED: total})
    assert len(received) == total
    assert sum(received.values()) > total  # the 503s made them retry, so they competed
    # Both relays did part of the work.
    delivered_by = [int(s.split("delivered ")[1].split(",")[0]) for s in summaries]
    assert all(n > 0 for n in delivered_by) and sum(delivered_by) == total
    if postgres:
        assert long_transactions and set(long_transactions) == {0}
