"""The service as it is deployed: gunicorn with two worker processes, talking over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.factories import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def served(tmp_path):
    """gunicorn, 2 workers, production settings, a migrated SQLite file; yields its base URL."""
    redis_url = os.environ.get("COPA_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip(
            "COPA_TEST_REDIS_URL is not set (.ci/run sets it): shared rate-limit storage not checked"
        )
    port = free_port()
    env = {
        **os.environ,
        "COPA_ENV": "production",
        "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "COPA_RATELIMIT_STORAGE_URI": redis_url,
        "COPA_RATELIMIT_KEY_PREFIX": f"copa-test-{uuid.uuid4().hex}",
        "COPA_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            # Refused, or accepted by the socket while the workers still import the app.
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(
                    "gunicorn did not start: " + server.stderr.read1().decode(errors="replace")
                )
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_two_workers_share_one_rate_limit_through_redis(served):
    """10 logins a minute means 10 in all, whichever worker answers (not 10 per worker)."""
    statuses = []
    for _ in range(14):
        # A new connection each time, so both workers take requests.
        response = requests.post(
            f"{served}/v1/auth/login",
            json={"email": "x@copa.example", "password": "x"},
            headers={"Connection": "close"},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert statuses.count(401) == 10
    assert statuses.count(429) == 4
    assert int(response.headers["Retry-After"]) > 0
    assert requests.get(f"{served}/readyz", timeout=5).status_code == 200
