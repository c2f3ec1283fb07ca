"""A phone that retries until it gets an answer creates exactly one report, even when the server
is killed with SIGKILL at random moments (CONTRACTS.md, idempotency guarantee)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.factories import free_port
from tests.factories import scratch_database as scratch_db

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = 500
MIN_KILLS = 10


@pytest.fixture
def scratch_database(tmp_path):
    """A database of its own (committed data, other processes): SQLite file or PostgreSQL."""
    with scratch_db(tmp_path, "crash") as url:
        yield url


class Server:
    """gunicorn in its own process group, so SIGKILL takes the master and its workers at once."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port, self.process = env, port, None
        self.kills = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--preload",
                "--graceful-timeout",
                "1",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        with self.lock:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1
            self.start()

    def stop(self) -> None:
        with self.lock:
            if self.process and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _submit_until_answered(base: str, headers: dict, body: dict, key: str, deadline: float) -> dict:
    """What a phone's offline queue does: the same request, the same key, until it is answered."""
    while time.monotonic() < deadline:
        try:
            response = requests.post(
                f"{base}/v1/reports",
                json=body,
                timeout=10,
                headers={**headers, "Idempotency-Key": key},
            )
        except requests.RequestException:
            time.sleep(0.05)  # the server is down or restarting
            continue
        if response.status_code == 201:
            return response.json()
        if response.status_code in (409, 502, 503):
            time.sleep(0.1)  # still in flight (its holder may have died): wait for the lease
            continue
        raise AssertionError(f"{key}: {response.status_code} {response.text}")
    raise AssertionError(f"{key}: no answer before the deadline")


@pytest.mark.slow
def test_retrying_client_gets_exactly_one_report_per_key_through_sigkills(scratch_database):
    env = {
        **os.environ,
        "COPA_ENV": "production",
        "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_DATABASE_URL": scratch_database,
        "COPA_RATELIMIT_ENABLED": "false",
        "COPA_IDEMPOTENCY_LEASE_SECONDS": "1",  # a dead request's key is free again after 1 s
        "COPA_DEMO_PASSWORD": "crash-test-password",
        "COPA_LOG_LEVEL": "ERROR",
    }
    for command in (["db", "upgrade"], ["copa", "seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server(env, port)
    server.start()
    stop_killing = threading.Event()
    rng = random.Random(20261122)
    progress = {"answered": 0}

    def killer() -> None:
        # Every 25 to 45 answered submissions (so at least 11 kills), kill at a random moment of the next ones, so
        # kills land before, during and after commits; the boot after each kill takes ~1 s.
        target = rng.randint(25, 45)
        while not stop_killing.is_set():
            if progress["answered"] >= target:
                time.sleep(rng.uniform(0, 0.05))
                server.kill()
                target = progress["answered"] + rng.randint(25, 45)
            time.sleep(0.002)

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                device = requests.post(f"{base}/v1/auth/devices", json={}, timeout=5)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {device.json()['access_token']}"}
        device_id = device.json()["device_id"]

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        answers = {}
        deadline = time.monotonic() + 240
        for n in range(SUBMISSIONS):
            body = {
                "category": "graffiti",
                "description": f"Tag number {n} on the bus shelter",
                "location": {"lat": 54.5762, "lon": -1.2348},
            }
            answers[n] = _submit_until_answered(base, headers, body, f"report-{n}", deadline)
            progress["answered"] = n + 1
        stop_killing.set()
        thread.join()
    finally:
        stop_killing.set()
        server.stop()

    assert server.kills >= MIN_KILLS
    engine = sa.create_engine(scratch_database)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT reference, description FROM report WHERE device_id = :d"),
            {"d": uuid.UUID(device_id).hex if scratch_database.startswith("sqlite") else device_id},
        ).all()
    engine.dispose()
    # Exactly one report per key, and it is the one the client was told about.
    assert len(rows) == SUBMISSIONS
    assert sorted(r.description for r in rows) == sorted(
        f"Tag number {n} on the bus shelter" for n in range(SUBMISSIONS)
    )
    assert {r.reference for r in rows} == {answers[n]["reference"] for n in range(SUBMISSIONS)}
