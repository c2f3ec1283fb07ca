"""``make run`` in a fresh clone starts every process: a resident's report reaches a partner's
webhook with nothing else started by hand, and Ctrl-C stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import free_port
from tests.factories import scratch_database as scratch_db
from tests.outbox.support import Receiver

ROOT = Path(__file__).resolve().parents[2]
MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}


@pytest.fixture
def scratch_database(tmp_path):
    with scratch_db(tmp_path, "makerun") as url:
        yield url


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``: {pid: command line}."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
        commands[int(entry.name)] = command
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = commands[child]
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited (nobody reaped it yet)


def wait_for(condition, deadline: float, what: str, log: Path):
    """``condition()``'s first true value, polled until ``deadline`` (time.monotonic)."""
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what}:\n{log.read_text()[-4000:]}"
        )
        time.sleep(0.2)


@pytest.mark.slow
def test_make_run_delivers_a_referral_and_ctrl_c_stops_every_process(tmp_path, scratch_database):
    deadline = time.monotonic() + 90  # the whole test, clone to the last process gone
    clone = tmp_path / "copa"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    # The installed venv, not a new one: -o keeps make from reinstalling into it.
    (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    port = free_port()
    log = tmp_path / "make-run.log"

    with Receiver() as partner:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COPA_", "PYTEST_"))}
        env.update(
            {
                "COPA_PORT": str(port),
                "COPA_DATABASE_URL": scratch_database,
                "COPA_DEMO_WEBHOOK_URL": f"{partner.url}/hooks",
                "COPA_ALLOW_LOOPBACK_TARGETS": "true",
                "COPA_DEMO_PASSWORD": "make-run-demo-password",
                "COPA_RELAY_POLL_SECONDS": "0.5",
            }
        )
        with log.open("w") as out:
            make = subprocess.Popen(
                ["make", "-o", ".venv/.installed-run", "run"],
                cwd=clone,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a terminal's job is
            )
        processes: dict[int, str] = {}
        try:
            base = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return requests.get(f"{base}/readyz", timeout=2).status_code == 200
                except requests.RequestException:
                    return False

            wait_for(ready, deadline, "the web server", log)
            device = requests.post(f"{base}/v1/auth/devices", json={}, timeout=10).json()
            report = requests.post(
                f"{base}/v1/reports",
                json={
                    "category": "graffiti",
                    "description": "Fresh tags on the bus shelter",
                    "location": MIDDLESBROUGH,
                },
                headers={"Authorization": f"Bearer {device['access_token']}"},
                timeout=10,
            )
            assert report.status_code == 201, report.text

            def delivered():
                for request in list(partner.received):
                    if json.loads(request.body)["data"]["report_id"] == report.json()["id"]:
                        return request
                return None

            request = wait_for(delivered, deadline, "the referral at the partner's webhook", log)
            assert request.path == "/hooks"
            assert request.headers["webhook-signature"].startswith("v1,")

            # The web's /metrics adds up every process: the relay's attempt is counted there.
            def attempt_counted() -> bool:
                text = requests.get(f"{base}/metrics", timeout=5).text
                return any(
                    family.name == "copa_relay_attempts"
                    and any(
                        sample.labels.get("channel") == "webhook"
                        and sample.labels.get("outcome") == "delivered"
                        and sample.value >= 1
                        for sample in family.samples
                    )
                    for family in text_string_to_metric_families(text)
                )

            wait_for(attempt_counted, deadline, "the relay's attempt in the web's /metrics", log)

            processes = descendants(make.pid)
            commands = " | ".join(processes.values())
            assert "gunicorn" in commands
            assert "copa relay" in commands
            assert "copa scheduler" in commands
            assert "copa media-worker" in commands

            os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal
            make.wait(timeout=15)  # honcho: SIGTERM to each, SIGKILL 5 s later
            wait_for(
                lambda: not [p for p in processes if alive(p)],
                min(deadline, time.monotonic() + 10),
                "every process to stop",
                log,
            )
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
            for pid in processes:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
    output = log.read_text()
    assert "scheduler: purge next at" in output, output[-4000:]
    for name in ("web", "relay", "scheduler", "media"):
        assert f"{name}.1 stopped" in output, output[-4000:]
    assert "SIGKILL" not in output, output[-4000:]  # each stopped on SIGTERM, none was killed
    assert "scheduler stopped" in output  # its own goodbye: it ran its shutdown
    assert time.monotonic() < deadline
