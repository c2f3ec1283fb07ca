"""A database outage is a 503 with Retry-After, never a 500: the app's offline queue retries,
and when the database is back every queued report is created exactly once."""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade

from copa import create_app
from copa.db import db
from copa.reports.models import Report
from copa.submissions import service as submission_service
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, free_port, load_reference_data, register_device

ROOT = Path(__file__).resolve().parents[2]

# Unreachable on purpose and local: a PostgreSQL port on loopback where nothing listens, and a
# SQLite file in a folder that does not exist.
UNREACHABLE = {
    "sqlite": "sqlite:///{tmp_path}/no-such-folder/copa.db",
    "postgresql": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
}

REPORT = {
    "category": "graffiti",
    "description": "Tag on the bus shelter",
    "location": {"lat": 54.5762, "lon": -1.2348},
}


@pytest.fixture(params=sorted(UNREACHABLE))
def app_without_database(request, tmp_path):
    url = UNREACHABLE[request.param].format(tmp_path=tmp_path)
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": url, "DATABASE_RETRY_AFTER_SECONDS": 7})
    yield app
    with app.app_context():
        db.engine.dispose()


def assert_retry_later(response, retry_after: str = "7") -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == retry_after


def assert_database_problem(response) -> None:
    assert_retry_later(response)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 503
    assert problem["type"].endswith("/database-unreachable")
    assert problem["title"] == "Service Unavailable"
    assert "database cannot be reached" in problem["detail"]
    body = response.get_data(as_text=True)
    for secret in ("nobody", "127.0.0.1", "no-such-folder", "sqlite", "psycopg", "Traceback"):
        assert secret not in body


# --- one request, the database unreachable ----------------------------------------------------


def test_request_while_the_database_is_unreachable_is_503_problem_with_retry_after(
    app_without_database,
):
    response = app_without_database.test_client().post("/v1/auth/devices", json={})

    assert_database_problem(response)


def test_signed_in_request_fails_at_the_token_check_with_503_not_500(client, app_without_database):
    """The revocation check reads the database before any view runs: that is a 503 too, and
    the Idempotency-Key it carried is untouched (the retry will run)."""
    token = bearer(register_device(client)["access_token"])  # signed with the shared test key

    response = app_without_database.test_client().post(
        "/v1/reports", json=REPORT, headers={**token, "Idempotency-Key": "outage-1"}
    )

    assert_database_problem(response)


def test_open311_answers_the_outage_in_its_own_error_shape_with_retry_after(
    app_without_database,
):
    client = app_without_database.test_client()

    as_json = client.get("/open311/v2/services.json")
    assert_retry_later(as_json)
    assert as_json.get_json() == [
        {"code": 503, "description": "The database cannot be reached. Try again shortly."}
    ]

    as_xml = client.get("/open311/v2/services.xml")
    assert_retry_later(as_xml)
    assert as_xml.mimetype == "text/xml"
    body = as_xml.get_data(as_text=True)
    assert "<errors><error><code>503</code>" in body
    assert "The database cannot be reached" in body


def test_readyz_is_503_with_the_configured_retry_after(app_without_database):
    assert_database_problem(app_without_database.test_client().get("/readyz"))


def test_operator_gets_one_warning_line_without_traceback_or_request_data(
    app_without_database, caplog
):
    with caplog.at_level(logging.WARNING):
        app_without_database.test_client().post(
            "/v1/auth/devices?utm=resident@example.org", json={"platform": "ios"}
        )

    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1
    record = lines[0]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    message = record.getMessage()
    assert "database unreachable" in message and "POST /v1/auth/devices" in message
    assert "resident@example.org" not in message and "ios" not in message


def test_sqlite_locked_past_its_busy_timeout_is_503_with_retry_after(tmp_path):
    path = tmp_path / "locked.db"
    app = create_app(
        {
            **TEST_SETTINGS,
            "DATABASE_URL": f"sqlite:///{path}",
            "SQLITE_BUSY_TIMEOUT_MS": 50,
            "DATABASE_RETRY_AFTER_SECONDS": 7,
        }
    )
    with app.app_context():
        upgrade()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock, and keeps it
    try:
        locked = app.test_client().post("/v1/auth/devices", json={})
    finally:
        writer.rollback()
        writer.close()
    after = app.test_client().post("/v1/auth/devices", json={})
    with app.app_context():
        db.engine.dispose()

    assert_database_problem(locked)
    assert after.status_code == 201  # it was transient: the retry goes through


def test_a_key_whose_request_met_the_outage_lets_the_retry_create_the_report(
    app, client, monkeypatch
):
    load_reference_data(app)
    token = bearer(register_device(client)["access_token"])
    headers = {**token, "Idempotency-Key": "lost-in-outage"}
    submit = submission_service.submit_report

    def connection_lost(*args, **kwargs):
        raise sa.exc.OperationalError(
            "INSERT INTO report ...",
            {},
            psycopg.OperationalError("server closed the connection unexpectedly"),
            connection_invalidated=True,
        )

    monkeypatch.setattr(submission_service, "submit_report", connection_lost)
    lost = client.post("/v1/reports", json=REPORT, headers=headers)
    assert lost.status_code == 503
    assert lost.mimetype == "application/problem+json"
    assert int(lost.headers["Retry-After"]) > 0

    monkeypatch.setattr(submission_service, "submit_report", submit)
    retry = client.post("/v1/reports", json=REPORT, headers=headers)
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert client.post("/v1/reports", json=REPORT, headers=headers).get_json() == retry.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1


def test_an_error_that_is_not_an_outage_is_still_a_500(app, client, monkeypatch):
    def broken_statement(*args, **kwargs):
        raise sa.exc.OperationalError(
            "SELECT nope", {}, sqlite3.OperationalError("no such column: nope")
        )

    load_reference_data(app)
    token = bearer(register_device(client)["access_token"])
    monkeypatch.setattr(submission_service, "submit_report", broken_statement)

    response = client.post("/v1/reports", json=REPORT, headers=token)

    assert response.status_code == 500
    assert "Retry-After" not in response.headers


# --- a real outage: a PostgreSQL cluster of the test's own, stopped during a burst ------------


def _postgres_bin() -> Path:
    """initdb and pg_ctl: on PATH, or where Debian and Ubuntu install them."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).parent] if found else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    newest_first = sorted(versions, key=lambda p: [int(n) for n in re.findall(r"\d+", p)])[::-1]
    candidates += [Path(p) for p in newest_first]
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    pytest.fail(
        "This test starts a PostgreSQL server of its own and needs the server binaries "
        "(initdb, pg_ctl): install the postgresql package (they go to "
        "/usr/lib/postgresql/<version>/bin) or put pg_ctl on PATH."
    )


class Cluster:
    """A throwaway PostgreSQL cluster on a free loopback port, run by the ``postgres`` OS user
    when the tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self, bin_dir: Path, tmp_path: Path) -> None:
        self.bin_dir, self.port = bin_dir, free_port()
        if os.geteuid() == 0:
            try:
                import pwd

                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("Running as root, this test needs a 'postgres' OS user to run initdb")
            # The pytest folder of root is not reachable by another user: a folder of its own.
            self.home = Path(tempfile.mkdtemp(prefix="copa-outage-"))
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        else:
            self.home = tmp_path / "postgres"
            self.home.mkdir()
            self.as_user = []
        self.data = self.home / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/copa?connect_timeout=2"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self.as_user, *args], cwd=self.home, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            server_log = self.home / "server.log"
            pytest.fail(
                f"{Path(args[0]).name} {args[1]} failed ({done.returncode}): {done.stderr.strip()}"
                + (
                    f"\nserver log:\n{server_log.read_text()[-2000:]}"
                    if server_log.exists()
                    else ""
                )
            )

    def create(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        admin = sa.create_engine(
            self.url.replace("/copa?", "/postgres?"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE copa"))
        admin.dispose()

    def start(self) -> None:
        # fsync off: only the server process is killed, never the machine, so what the
        # server wrote is still in the page cache when it starts again.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c unix_socket_directories={self.home}"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "30",
            "-D",
            str(self.data),
            "-l",
            str(self.home / "server.log"),
            "-o",
            options,
        )

    def stop(self) -> None:
        """As a crash would: no checkpoint, every connection cut."""
        self._run(str(self.bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data))

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self.as_user,
                    str(self.bin_dir / "pg_ctl"),
                    "stop",
                    "-m",
                    "immediate",
                    "-D",
                    str(self.data),
                ],
                cwd=self.home,
                capture_output=True,
                timeout=30,
            )
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(_postgres_bin(), tmp_path)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()


def _migrate_with_reference_data(url: str) -> None:
    migrator = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
    with migrator.app_context():
        upgrade()
        db.engine.dispose()
    load_reference_data(migrator)
    with migrator.app_context():
        db.engine.dispose()


class Served:
    def __init__(self, base: str, log: Path, jwt_secret: str) -> None:
        self.base, self.log, self.jwt_secret = base, log, jwt_secret


@pytest.fixture
def served(cluster, tmp_path):
    """gunicorn, two workers, production settings, on the cluster."""
    _migrate_with_reference_data(cluster.url)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    jwt_secret = uuid.uuid4().hex * 2
    env = {
        **os.environ,
        "COPA_ENV": "production",
        "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_JWT_SECRET_KEY": jwt_secret,
        "COPA_DATABASE_URL": cluster.url,
        "COPA_RATELIMIT_ENABLED": "false",
        "COPA_DATABASE_RETRY_AFTER_SECONDS": "1",
        "COPA_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--graceful-timeout",
                "1",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.2)
        yield Served(base, log, jwt_secret)
    finally:
        os.killpg(server.pid, 9)
        server.wait(timeout=10)


RESIDENTS = 4
REPORTS_EACH = 15
OUTAGE_AFTER = 16  # reports created before the cluster is stopped


class Burst:
    """Residents' offline queues: each sends its reports one after the other, every one with its
    own Idempotency-Key, retrying (honouring Retry-After) until it is created."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.lock = threading.Lock()
        self.created: dict[str, dict] = {}  # key -> the 201 body
        self.unexpected: list[str] = []
        self.unavailable = 0
        self.back_at: float | None = None  # when the database was reachable again
        self.answers_after_back: list[int] = []
        self.deadline = time.monotonic() + 60

    def resident(self, number: int) -> None:
        token = requests.post(f"{self.base}/v1/auth/devices", json={}, timeout=10).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for n in range(REPORTS_EACH):
            key = f"resident-{number}-report-{n}"
            body = {**REPORT, "description": f"Resident {number} report {n}: tag on the shelter"}
            while key not in self.created and not self.unexpected:
                if time.monotonic() > self.deadline:
                    self.fail(f"{key}: not created before the deadline")
                    return
                self.send(key, headers, body)

    def send(self, key: str, headers: dict, body: dict) -> None:
        sent_at = time.monotonic()
        try:
            response = requests.post(
                f"{self.base}/v1/reports",
                json=body,
                headers={**headers, "Idempotency-Key": key},
                timeout=15,
            )
        except requests.RequestException as error:
            self.fail(f"{key}: no answer ({type(error).__name__})")
            return
        with self.lock:
            if self.back_at is not None and sent_at > self.back_at:
                self.answers_after_back.append(response.status_code)
        if response.status_code == 201:
            with self.lock:
                self.created[key] = response.json()
        elif (
            response.status_code == 503
            and response.headers.get("Content-Type") == "application/problem+json"
            and int(response.headers.get("Retry-After", "0")) > 0
        ):
            with self.lock:
                self.unavailable += 1
            time.sleep(int(response.headers["Retry-After"]))
        else:
            self.fail(f"{key}: {response.status_code} {response.headers} {response.text[:300]}")

    def fail(self, message: str) -> None:
        with self.lock:
            self.unexpected.append(message)


class HeldKey:
    """A report request of another web process, stuck in the database when it goes down: it has
    claimed its Idempotency-Key and is waiting for a lock on the report table. Its process is
    this test's, so the server's workers know nothing of it (only the database does)."""

    def __init__(self, cluster: Cluster, served: Served) -> None:
        self.app = create_app(
            {**TEST_SETTINGS, "DATABASE_URL": cluster.url, "JWT_SECRET_KEY": served.jwt_secret}
        )
        token = requests.post(f"{served.base}/v1/auth/devices", json={}, timeout=10).json()
        self.headers = {
            "Authorization": f"Bearer {token['access_token']}",
            "Idempotency-Key": "held-when-the-database-went-down",
        }
        self.body = {**REPORT, "description": "The report that was in flight: tag on the shelter"}
        self.answer = None
        self.thread = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        self.answer = self.app.test_client().post(
            "/v1/reports", json=self.body, headers=self.headers
        )

    def start(self, engine: sa.Engine) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        with engine.connect() as conn:
            while not conn.scalar(
                sa.text("SELECT count(*) FROM idempotency_key WHERE key = :k"),
                {"k": self.headers["Idempotency-Key"]},
            ):
                assert time.monotonic() < deadline, "the held request never claimed its key"
                time.sleep(0.02)

    def finish(self):
        self.thread.join(timeout=15)
        with self.app.app_context():
            db.engine.dispose()
        return self.answer


@pytest.mark.slow
def test_reports_sent_through_a_database_outage_are_503_then_created_exactly_once(cluster, served):
    base, log = served.base, served.log
    burst = Burst(base)
    threads = [
        threading.Thread(target=burst.resident, args=(n,), daemon=True) for n in range(RESIDENTS)
    ]
    for thread in threads:
        thread.start()

    while len(burst.created) < OUTAGE_AFTER and not burst.unexpected:
        assert time.monotonic() < burst.deadline, "the burst made no progress before the outage"
        time.sleep(0.01)
    held = HeldKey(cluster, served)
    # Hold every report insert in the database, so requests are mid-way when it goes down.
    engine = sa.create_engine(cluster.url)
    locker = engine.connect()
    locker.begin()
    locker.execute(sa.text("LOCK TABLE report IN ACCESS EXCLUSIVE MODE"))
    held.start(engine)
    cluster.stop()
    locker.invalidate()
    engine.dispose()
    down_since = time.monotonic()
    # Every resident is now retrying against a server whose database is gone.
    while burst.unavailable < RESIDENTS and not burst.unexpected:
        assert time.monotonic() < down_since + 20, "no 503 answers during the outage"
        time.sleep(0.05)
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    lost = held.finish()
    assert lost.status_code == 503 and lost.mimetype == "application/problem+json"
    assert int(lost.headers["Retry-After"]) > 0

    cluster.start()
    with burst.lock:
        burst.back_at = time.monotonic()
    assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    # The key the lost request held does not block its retry (no 409 until a lease runs out).
    retry = requests.post(f"{base}/v1/reports", json=held.body, headers=held.headers, timeout=10)
    assert retry.status_code == 201, retry.text
    for thread in threads:
        thread.join(timeout=max(1, burst.deadline - time.monotonic()))

    assert burst.unexpected == []
    assert burst.unavailable >= RESIDENTS
    # Once the database was back, no request (retry or new) was turned away.
    assert burst.answers_after_back and set(burst.answers_after_back) == {201}
    assert len(burst.created) == RESIDENTS * REPORTS_EACH

    engine = sa.create_engine(cluster.url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT reference, description FROM report")).all()
    engine.dispose()
    # Exactly one report per key, and it is the one the resident was told about.
    told = {body["reference"] for body in burst.created.values()} | {retry.json()["reference"]}
    assert len(rows) == RESIDENTS * REPORTS_EACH + 1
    assert {r.reference for r in rows} == told

    # The operator sees the outage, one line per refused request, without tracebacks or reports.
    server_log = log.read_text()
    refused = [line for line in server_log.splitlines() if "database unreachable" in line]
    assert len(refused) == burst.unavailable
    assert all("answered 503: POST /v1/reports" in line for line in refused)
    assert "Traceback" not in server_log
    assert "tag on the shelter" not in server_log
