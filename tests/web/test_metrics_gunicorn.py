"""Under gunicorn with several workers, /metrics adds up every worker's figures, and the access
log is JSON lines carrying each request's id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import gunicorn_serving, scratch_database

ROOT = Path(__file__).resolve().parents[2]


def _readyz_served(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "copa_http_requests_total" and sample.labels == {
                "method": "GET",
                "route": "/readyz",
                "status": "200",
            }:
                return sample.value
    return 0.0


def _readyz_per_worker(directory: Path) -> dict[str, float]:
    """{worker pid: /readyz requests it counted} (gunicorn_serving polls /healthz), read from each worker's own file."""
    counted = {}
    for path in directory.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if (
                    sample.name == "copa_http_requests_total"
                    and sample.labels.get("route") == "/readyz"
                ):
                    pid = path.stem.removeprefix("counter_")
                    counted[pid] = counted.get(pid, 0) + sample.value
    return counted


def _replace_workers(pid_file: Path, output: Path) -> None:
    """Have gunicorn replace its workers (SIGHUP) and wait for the new ones to boot."""
    booted = output.read_text().count("Booting worker")
    os.kill(int(pid_file.read_text()), signal.SIGHUP)
    deadline = time.monotonic() + 30
    while output.read_text().count("Booting worker") < booted + 2:
        assert time.monotonic() < deadline, "gunicorn did not replace its workers"
        time.sleep(0.1)


@pytest.mark.slow
def test_every_workers_requests_are_counted_together_and_logged_as_json_lines(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    with scratch_database(tmp_path, "metrics") as url:
        env = {
            **os.environ,
            "COPA_ENV": "production",
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_DATABASE_URL": url,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "GUNICORN_CMD_ARGS": f"--pid {tmp_path / 'gunicorn.pid'}",
        }
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        output = tmp_path / "gunicorn.log"
        with gunicorn_serving(env, output, workers=2) as port:
            base = f"http://127.0.0.1:{port}"
            before = _readyz_served(base)
            ids = [f"mp-{uuid.uuid4().hex[:12]}" for _ in range(40)]

            def call(request_id: str) -> None:
                answer = requests.get(
                    f"{base}/readyz",
                    headers={"X-Request-ID": request_id, "Connection": "close"},
                    timeout=60,  # new workers load the application before they answer
                )
                assert answer.headers["X-Request-ID"] == request_id

            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(call, ids[:20]))
                # New workers replace the old ones (HUP): the figures must span processes,
                # dead ones included, however gunicorn spread the requests.
                _replace_workers(tmp_path / "gunicorn.pid", output)
                list(pool.map(call, ids[20:]))
            after = _readyz_served(base)
            per_worker = _readyz_per_worker(metrics_dir)

    assert len([n for n in per_worker.values() if n]) >= 2, per_worker
    # Whichever worker answers the scrape, it counts the others' requests too.
    assert after - before == len(ids)
    lines = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    access = {line.get("request_id") for line in lines if line["logger"] == "gunicorn.access"}
    assert set(ids) <= access
