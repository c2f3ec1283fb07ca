"""Submission benchmark: what copa's create endpoints cost next to a bare Flask insert.

Run by hand from the repository root (never by the test suite):

    .venv/bin/python bench/submit.py                 # SQLite, then PostgreSQL if reachable
    .venv/bin/python bench/submit.py --duration 30 --databases postgresql
    .venv/bin/python bench/submit.py --endpoints baseline,open311 --duration 3

Endpoints (``--endpoints``, all by default):

- ``baseline``: the floor, bench/baseline_app.py: Flask + marshmallow + one SQLAlchemy Core
  insert into the same database, behind the same gunicorn settings;
- ``reports``: POST /v1/reports (fly-tipping in Middlesbrough, a resident's bearer token);
- ``idempotent``: the same, each request with a fresh unique ``Idempotency-Key``;
- ``votes``: POST /v1/confidence/votes;
- ``open311``: POST /open311/v2/requests.json, form-encoded as FixMyStreet's Open311.pm sends
  it (api_key, jurisdiction_id, a "title/detail/url" description whose report URL differs on
  every request, so none is a retry, service_code, names, email, lat/long, attribute[size]),
  with the api_key of a client the bench registers through the admin API (demo admin).

For each database (a temporary SQLite file; a throwaway PostgreSQL database on 127.0.0.1:5432,
created and dropped here) it migrates, loads the demo data, serves copa with
``gunicorn --workers 2 wsgi:app`` (production settings, random secrets, rate limits off: the
Open311 limit too) next to the floor, probes each endpoint once (a non-2xx answer skips it), and
then drives each with wrk (bench/post.lua):

1. peak: wrk at a fixed concurrency (16 connections), a warm-up, then rounds of ``--duration``
   seconds, the endpoints taking turns: requests/s, p50/p99, every status, and the server's CPU
   time per request: the gunicorn processes' user + system time before and after each round
   (from /proc), plus on PostgreSQL the backends connected to the benchmark database;
2. half peak: a fixed offered load of half the measured peak requests/s for ``--duration`` s,
   from an open-loop paced client here (request i starts at t0 + i / rate on its own
   connection; wrk cannot pace gunicorn's sync workers, see "a fixed offered load" below):
   p50/p99 from each request's start to the end of its answer, and the achieved rate.

It prints, per database, a table with the CPU ratio of each endpoint to the floor of the same
run (app + db CPU ms per request, divided by the floor's), the targets met or not, and the p99
at half peak; then a markdown table for the README. Targets: CPU ratio to the floor report <= 4,
report with Idempotency-Key <= 5, vote <= 2.5, Open311 POST <= 4; p99 at half peak <= 20 ms.

Needs wrk (``apt-get install wrk`` on Debian/Ubuntu, ``brew install wrk`` on macOS) built with
LuaJIT (the script reads the clock through its ffi), and Linux /proc for the CPU figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
LUA = BENCH / "post.lua"

REPORT_BODY = {
    "category": "fly_tipping",
    "description": "Black bags and an old mattress dumped behind the shops.",
    "location": {"lat": 54.5762, "lon": -1.2348},
    "answers": {"size": "small"},
}
VOTE_BODY = {"option": "quite_confident", "area": "E06000002"}

# Open311: what FixMyStreet's Open311.pm (_populate_service_request_params, _post) sends for a
# fly-tipping report made on its map: lat/long always (always_send_latlong, so no
# address_string), the category's extra question as attribute[...], the reporter's split name
# and email. BENCHSEQ (the FixMyStreet report number) is made unique per request by post.lua:
# an identical POST would be a retry, answered 200 with the first report.
OPEN311_JURISDICTION = "cleveland.police.uk"
OPEN311_FIELDS = (
    (
        "description",
        "title: Fly-tipping behind the shops\n\n"
        "detail: Black bags and an old mattress dumped behind the shops.\n\n"
        "url: https://www.fixmystreet.com/report/BENCHSEQ\n\n"
        "Submitted via FixMyStreet\n",
    ),
    ("service_code", "fly_tipping"),
    ("first_name", "Sam"),
    ("last_name", "Jones"),
    ("email", "sam.jones@example.org"),
    ("lat", "54.5762"),
    ("long", "-1.2348"),
    ("attribute[size]", "small"),
)
DEMO_ADMIN = "admin@copa.example"

P99_HALF_PEAK_TARGET_MS = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
HAS_PROC = Path("/proc/self/stat").exists()


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    body: dict | tuple[tuple[str, str], ...]  # a JSON object, or form fields in order
    authenticated: bool = False  # a resident device's bearer token
    idempotency: bool = False  # a fresh Idempotency-Key on every request
    open311: bool = False  # form-encoded, with the bench client's api_key
    cpu_target: float | None = None  # most CPU/req as a multiple of the floor's; None: the floor

    @property
    def content_type(self) -> str:
        return "application/x-www-form-urlencoded" if self.open311 else "application/json"


BASELINE = Endpoint(
    "baseline", "floor (Flask + marshmallow + Core insert)", "/baseline", REPORT_BODY
)
REPORTS = Endpoint(
    "reports", "POST /v1/reports", "/v1/reports", REPORT_BODY, authenticated=True, cpu_target=4.0
)
IDEMPOTENT = Endpoint(
    "idempotent",
    "POST /v1/reports + Idempotency-Key",
    "/v1/reports",
    REPORT_BODY,
    authenticated=True,
    idempotency=True,
    cpu_target=5.0,
)
VOTES = Endpoint(
    "votes",
    "POST /v1/confidence/votes",
    "/v1/confidence/votes",
    VOTE_BODY,
    authenticated=True,
    cpu_target=2.5,
)
OPEN311 = Endpoint(
    "open311",
    "POST /open311/v2/requests.json (form)",
    "/open311/v2/requests.json",
    OPEN311_FIELDS,
    open311=True,
    cpu_target=4.0,
)
ENDPOINTS = {e.key: e for e in (BASELINE, REPORTS, IDEMPOTENT, VOTES, OPEN311)}
ALIASES = {"floor": "baseline"}


@dataclass
class Result:
    database: str
    endpoint: Endpoint
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    non_2xx: int = 0
    statuses: dict = field(default_factory=dict)
    replayed: int = 0  # answers marked Idempotent-Replayed (there should be none)
    socket_errors: int = 0
    skipped: str | None = None
    rounds: int = 0
    app_cpu_ms: float | None = None  # CPU of the gunicorn processes per request
    db_cpu_ms: float | None = None  # CPU of the PostgreSQL backends per request
    half: dict | None = None  # the run at half the peak rate: target, achieved, p50, p99, ...

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Credentials:
    """What the requests need from the server: resident tokens, an Open311 api_key."""

    tokens: list[str] = field(default_factory=list)
    api_key: str | None = None


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_checked(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def stop_group(process: subprocess.Popen) -> None:
    """End a server started in its own session: TERM to its process group, then KILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass(frozen=True)
class Server:
    url: str
    pgid: int  # gunicorn's process group: the master and its workers


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[Server]:
    """Start a gunicorn in its own process group; yield it once it answers HTTP."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchError(f"the server exited ({process.returncode}):\n{tail(log_path)}")
            try:
                urllib.request.urlopen(base_url + "/healthz", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # a worker answered (the baseline has no /healthz)
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"the server did not answer:\n{tail(log_path)}") from None
                time.sleep(0.2)
        yield Server(base_url, process.pid)
    finally:
        stop_group(process)


def cpu_by_pid(
    pids: set[int] | None = None, pgid: int | None = None, command: str | None = None
) -> dict[int, float]:
    """CPU seconds (user + system) of the given processes, or of a process group (Linux /proc).

    ``command`` keeps only processes of that name (a PostgreSQL in a container has other pids).
    """
    found: dict[int, float] = {}
    candidates = pids if pids is not None else {int(p) for p in os.listdir("/proc") if p.isdigit()}
    for pid in candidates:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)
        fields = fields.split()  # fields from the state (3rd) on
        if pgid is not None and int(fields[2]) != pgid:
            continue
        if command is not None and name != command:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def post_json(url: str, body: dict, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return post(url, json.dumps(body).encode(), headers)


def form_urlencode(pairs: list[tuple[str, str]]) -> str:
    """As LWP's HTTP::Request::Common::POST encodes FixMyStreet's fields: everything but
    ``A-Za-z0-9-_.~!*'()`` %XX-escaped, a space as ``+``, every line break as CRLF."""
    safe = "!*'()"
    content = "&".join(f"{quote_plus(k, safe=safe)}={quote_plus(v, safe=safe)}" for k, v in pairs)
    return re.sub(r"(?<!%0D)%0A", "%0D%0A", content)


def request_body(endpoint: Endpoint, credentials: Credentials) -> str:
    """The body as sent; a BENCHSEQ in it is replaced per request (post.lua)."""
    if not endpoint.open311:
        return json.dumps(endpoint.body)
    pairs = [
        ("api_key", credentials.api_key or ""),
        ("jurisdiction_id", OPEN311_JURISDICTION),
        *endpoint.body,
    ]
    return form_urlencode(pairs)


# --- databases ----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[str]:
    yield f"sqlite:///{workdir / 'bench.db'}"  # removed with workdir


@contextlib.contextmanager
def postgresql_database(admin_dsn: str, host_url: str) -> Iterator[str]:
    import psycopg

    name = f"copa_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    log(f"  created PostgreSQL database {name}")
    try:
        yield f"{host_url}/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"  dropped PostgreSQL database {name}")


def postgresql_backends(admin_dsn: str, name: str) -> Callable[[], set[int]]:
    """The process ids of the server's backends connected to ``name`` (same machine only)."""

    def pids() -> set[int]:
        import psycopg

        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
            return {row[0] for row in rows}

    return pids


def postgresql_problem(admin_dsn: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
            admin.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return None


# --- load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where one endpoint's load goes, and the files post.lua reads."""

    server: Server
    endpoint: Endpoint
    body_file: Path
    tokens_file: Path | None


def prepare(server: Server, endpoint: Endpoint, credentials: Credentials, workdir: Path) -> Target:
    body_file = workdir / f"{endpoint.key}.body"
    body_file.write_text(request_body(endpoint, credentials))
    tokens_file = None
    if endpoint.authenticated:
        tokens_file = workdir / "tokens.txt"
        tokens_file.write_text("\n".join(credentials.tokens) + "\n")
    return Target(server, endpoint, body_file, tokens_file)


def run_wrk(target: Target, seconds: int, args: argparse.Namespace) -> dict:
    """One wrk run at ``--connections`` (as fast as they go)."""
    endpoint = target.endpoint
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        target.server.url,
        "--",
        f"path={endpoint.path}",
        f"body={target.body_file}",
        f"tokens={target.tokens_file or '-'}",
        f"threads={args.wrk_threads}",
        f"content_type={endpoint.content_type}",
        f"unique={secrets.token_hex(6)}",
        f"idempotency={int(endpoint.idempotency)}",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise BenchError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def measure(load: Callable[[], dict], server: Server, backend_pids: Callable[[], set[int]]) -> dict:
    """Run ``load`` with the server's CPU time around it (app_cpu_s, db_cpu_s), where /proc is."""
    if not HAS_PROC:
        return load()
    app_before = cpu_by_pid(pgid=server.pgid)
    db_before = cpu_by_pid(backend_pids(), command="postgres")
    run = load()
    run["app_cpu_s"] = cpu_used(app_before, cpu_by_pid(pgid=server.pgid))
    run["db_cpu_s"] = cpu_used(db_before, cpu_by_pid(backend_pids(), command="postgres"))
    return run


def probe(target: Target, credentials: Credentials) -> str | None:
    """One request before the load: None when it succeeds, else why the endpoint is skipped."""
    endpoint = target.endpoint
    unique = f"probe-{secrets.token_hex(8)}"
    headers = {"Content-Type": endpoint.content_type}
    if endpoint.authenticated:
        headers["Authorization"] = f"Bearer {credentials.tokens[0]}"
    if endpoint.idempotency:
        headers["Idempotency-Key"] = unique
    data = target.body_file.read_text().replace("BENCHSEQ", unique).encode()
    status, text = post(target.server.url + endpoint.path, data, headers)
    if 200 <= status < 300:
        return None
    if status in (404, 405):
        return f"endpoint not there yet ({status})"
    return f"probe answered {status}: {text[:300]}"


def combine(database: str, endpoint: Endpoint, runs: list[dict]) -> Result:
    """Requests/s over all rounds; latency percentiles and max as the median round's."""

    def median(key: str) -> float:
        values = sorted(run[key] for run in runs)
        return values[len(values) // 2] / 1000

    return Result(
        database,
        endpoint,
        requests=sum(run["requests"] for run in runs),
        seconds=sum(run["duration_us"] for run in runs) / 1e6,
        p50_ms=median("p50_us"),
        p90_ms=median("p90_us"),
        p99_ms=median("p99_us"),
        max_ms=max(run["max_us"] for run in runs) / 1000,
        non_2xx=sum(run["non_2xx"] for run in runs),
        statuses=merge_statuses(runs),
        replayed=sum(run["replayed"] for run in runs),
        socket_errors=sum(socket_errors(run) for run in runs),
        rounds=len(runs),
        app_cpu_ms=_per_request(runs, "app_cpu_s"),
        db_cpu_ms=_per_request(runs, "db_cpu_s"),
    )


def merge_statuses(runs: list[dict]) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return dict(sorted(statuses.items()))


def socket_errors(run: dict) -> int:
    return run["connect_errors"] + run["read_errors"] + run["write_errors"] + run["timeouts"]


def _per_request(runs: list[dict], key: str) -> float | None:
    requests = sum(run["requests"] for run in runs)
    if not requests or any(key not in run for run in runs):
        return None
    return sum(run[key] for run in runs) / requests * 1000


def half_peak(run: dict, rate: float) -> dict:
    """The figures of a run at a fixed offered load, for the report."""
    return {
        "target_rps": rate,
        "rps": run["rate_achieved"],
        "samples": run["requests"],
        "p50_ms": run["p50_us"] / 1000,
        "p99_ms": run["p99_us"] / 1000,
        "max_ms": run["max_us"] / 1000,
        "non_2xx": run["non_2xx"],
        "statuses": merge_statuses([run]),
        "socket_errors": run["socket_errors"],
        "replayed": run["replayed"],
        "cpu_ms": _cpu_per_request(run),
    }


def _cpu_per_request(run: dict) -> float | None:
    if "app_cpu_s" not in run or not run["requests"]:
        return None
    return (run["app_cpu_s"] + run["db_cpu_s"]) / run["requests"] * 1000


def describe(run: dict) -> str:
    rps = run["requests"] / (run["duration_us"] / 1e6)
    errors = socket_errors(run)
    return (
        f"{rps:8.1f} req/s  p50 {run['p50_us'] / 1000:6.1f} ms  p90 {run['p90_us'] / 1000:6.1f} ms"
        f"  p99 {run['p99_us'] / 1000:6.1f} ms  max {run['max_us'] / 1000:6.1f} ms"
        f"  non-2xx {run['non_2xx']} {run['statuses']}"
        + (f"  replayed {run['replayed']}" if run["replayed"] else "")
        + (f"  socket errors {errors}" if errors else "")
        + (
            f"  CPU/req app {run['app_cpu_s'] / run['requests'] * 1000:.2f} ms"
            f" db {run['db_cpu_s'] / run['requests'] * 1000:.2f} ms"
            if "app_cpu_s" in run and run["requests"]
            else ""
        )
    )


def describe_half(half: dict) -> str:
    cpu = f"  CPU/req {half['cpu_ms']:.2f} ms" if half["cpu_ms"] is not None else ""
    return (
        f"offered {half['target_rps']:7.1f} req/s, achieved {half['rps']:7.1f} req/s"
        f" ({half['samples']} timed)  p50 {half['p50_ms']:6.1f} ms  p99 {half['p99_ms']:6.1f} ms"
        f"  max {half['max_ms']:6.1f} ms  non-2xx {half['non_2xx']} {half['statuses']}"
        + (f"  socket errors {half['socket_errors']}" if half["socket_errors"] else "")
        + (f"  replayed {half['replayed']}" if half["replayed"] else "")
        + cpu
    )


# --- a fixed offered load -----------------------------------------------------------------
#
# wrk cannot offer a fixed rate to gunicorn's sync workers: its delay() hook waits on a
# connection it has already opened, which a worker has accepted and blocks reading; sleeping in
# response() instead keeps the answered connection open, and gunicorn (27 here) closes
# gracefully: it waits for the client to close first. Either way an idle client holds one of the
# two workers, and the latency measured is mostly the other connections' pauses. So this
# client is open-loop: request i starts at t0 + i / rate on a connection of its own (as wrk's:
# sync workers close every connection), whatever the earlier ones are doing; its latency runs
# from opening the connection (connect included, as an app's would) to the end of the answer,
# and the client closes at once.


def raw_requests(target: Target, credentials: Credentials) -> Iterator[bytes]:
    """The HTTP/1.1 requests post.lua would send: tokens in turn, a unique id per request."""
    endpoint = target.endpoint
    host = target.server.url.removeprefix("http://")
    body = target.body_file.read_text()
    prefix = secrets.token_hex(6)
    for number in itertools.count(1):
        unique = f"{prefix}-paced-{number}"
        data = body.replace("BENCHSEQ", unique).encode()
        headers = [
            f"POST {endpoint.path} HTTP/1.1",
            f"Host: {host}",
            f"Content-Type: {endpoint.content_type}",
            f"Content-Length: {len(data)}",
        ]
        if endpoint.authenticated:
            token = credentials.tokens[number % len(credentials.tokens)]
            headers.append(f"Authorization: Bearer {token}")
        if endpoint.idempotency:
            headers.append(f"Idempotency-Key: {unique}")
        yield ("\r\n".join(headers) + "\r\n\r\n").encode() + data


async def _one_request(host: str, port: int, payload: bytes) -> tuple[float, int, bool]:
    """(seconds, status, replayed) of one request on a fresh connection; status 0: no answer."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except (OSError, TimeoutError):
        return time.monotonic() - started, 0, False
    try:
        writer.write(payload)
        answer = await asyncio.wait_for(reader.read(), 10)  # the server closes after it
    except (OSError, TimeoutError):
        answer = b""
    finally:
        writer.close()
    elapsed = time.monotonic() - started
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") and answer[9:12].isdigit() else 0
    return elapsed, status, b"\r\nidempotent-replayed:" in head


async def _paced(target: Target, credentials: Credentials, rate: float, seconds: int) -> dict:
    host, port = target.server.url.removeprefix("http://").rsplit(":", 1)
    requests = raw_requests(target, credentials)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05
    tasks = []
    for number in range(max(1, int(rate * seconds))):
        await asyncio.sleep(max(0.0, t0 + number / rate - loop.time()))
        tasks.append(asyncio.create_task(_one_request(host, int(port), next(requests))))
    first_start, last_start = t0, loop.time()
    results = await asyncio.gather(*tasks)
    return summarize_paced(results, last_start - first_start)


def summarize_paced(results: list[tuple[float, int, bool]], window: float) -> dict:
    latencies = sorted(seconds for seconds, _, _ in results)
    statuses: dict[str, int] = {}
    for _, status, _ in results:
        if status:
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    def percentile(p: float) -> int:
        return int(latencies[max(0, math.ceil(len(latencies) * p / 100) - 1)] * 1e6)

    return {
        "requests": len(results),
        "rate_achieved": (len(results) - 1) / window if window > 0 else 0.0,
        "statuses": statuses,
        "non_2xx": sum(n for s, n in statuses.items() if not s.startswith("2")),
        "socket_errors": sum(1 for _, status, _ in results if not status),
        "replayed": sum(1 for *_, replayed in results if replayed),
        "p50_us": percentile(50),
        "p99_us": percentile(99),
        "max_us": int(latencies[-1] * 1e6),
    }


def run_paced(target: Target, credentials: Credentials, rate: float, seconds: int) -> dict:
    return asyncio.run(_paced(target, credentials, rate, seconds))


# --- what the requests need ---------------------------------------------------------------


def register_devices(base_url: str, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        status, text = post_json(
            base_url + "/v1/auth/devices", {"platform": "android", "app_version": "bench"}
        )
        if status != 201:
            raise BenchError(f"POST /v1/auth/devices answered {status}: {text[:300]}")
        tokens.append(json.loads(text)["access_token"])
    return tokens


def open311_api_key(base_url: str, admin_password: str) -> str:
    """Register an Open311 client as the demo admin would (POST /v1/admin/open311-clients)."""
    status, text = post_json(
        base_url + "/v1/auth/login", {"email": DEMO_ADMIN, "password": admin_password}
    )
    if status != 200:
        raise BenchError(f"POST /v1/auth/login ({DEMO_ADMIN}) answered {status}: {text[:300]}")
    admin = json.loads(text)["access_token"]
    status, text = post_json(
        base_url + "/v1/admin/open311-clients",
        {"name": "FixMyStreet (bench)", "jurisdiction_id": OPEN311_JURISDICTION},
        admin,
    )
    if status != 201:
        raise BenchError(f"POST /v1/admin/open311-clients answered {status}: {text[:300]}")
    return json.loads(text)["api_key"]


# --- one database -------------------------------------------------------------------------


def base_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPA_", "BENCH_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def copa_environment(url: str, workdir: Path) -> dict[str, str]:
    return base_environment() | {
        "COPA_ENV": "production",
        "COPA_DATABASE_URL": url,
        "COPA_SECRET_KEY": secrets.token_urlsafe(48),
        "COPA_JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "COPA_RATELIMIT_ENABLED": "false",  # every limit, the Open311 api_key's too
        "COPA_LOG_LEVEL": "WARNING",
        "COPA_DEMO_PASSWORD": secrets.token_urlsafe(16),
        "COPA_ACCESS_TOKEN_MINUTES": "120",
        "COPA_PHOTO_STORAGE_DIR": str(workdir / "photos"),
    }


def gunicorn_command(args: argparse.Namespace, app: str, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers)]
    if args.server_threads:
        command += ["--threads", str(args.server_threads)]
    return [*command, *extra, app]


def prepare_databases(
    env: dict[str, str], baseline_env: dict[str, str], selected: list[Endpoint]
) -> None:
    if any(e is not BASELINE for e in selected):
        log("  migrating and loading the demo data")
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        run_checked([*flask, "db", "upgrade"], env, "migrate")
        run_checked([*flask, "copa", "seed-demo"], env, "seed-demo")
    if BASELINE in selected:
        run_checked(
            [sys.executable, str(BENCH / "baseline_app.py")], baseline_env, "baseline table"
        )


def start_servers(
    servers: contextlib.ExitStack,
    database: str,
    workdir: Path,
    selected: list[Endpoint],
    args: argparse.Namespace,
    env: dict[str, str],
    baseline_env: dict[str, str],
) -> tuple[dict[str, Server], Credentials]:
    """Both servers side by side (an idle one costs nothing), so that the rounds can take
    turns: a machine whose load drifts during the run then weighs on every endpoint alike."""
    by_endpoint: dict[str, Server] = {}
    credentials = Credentials()
    if BASELINE in selected:
        command = gunicorn_command(args, "baseline_app:app", "--pythonpath", str(BENCH))
        by_endpoint[BASELINE.key] = servers.enter_context(
            serving(command, baseline_env, workdir / f"{database}-baseline.log")
        )
    copa_endpoints = [e for e in selected if e is not BASELINE]
    if copa_endpoints:
        copa = servers.enter_context(
            serving(gunicorn_command(args, "wsgi:app"), env, workdir / f"{database}-server.log")
        )
        if any(e.authenticated for e in copa_endpoints):
            credentials.tokens = register_devices(copa.url, args.devices)
            log(f"  registered {len(credentials.tokens)} devices")
        if OPEN311 in copa_endpoints:
            credentials.api_key = open311_api_key(copa.url, env["COPA_DEMO_PASSWORD"])
            log("  registered an Open311 client (FixMyStreet) through the admin API")
        by_endpoint.update({e.key: copa for e in copa_endpoints})
    return by_endpoint, credentials


def bench_database(
    database: str,
    url: str,
    workdir: Path,
    selected: list[Endpoint],
    args: argparse.Namespace,
    backend_pids: Callable[[], set[int]] = set,
) -> list[Result]:
    env = copa_environment(url, workdir)
    baseline_env = base_environment() | {"BENCH_DATABASE_URL": url}
    prepare_databases(env, baseline_env, selected)

    with contextlib.ExitStack() as servers:
        by_endpoint, credentials = start_servers(
            servers, database, workdir, selected, args, env, baseline_env
        )
        targets = {e.key: prepare(by_endpoint[e.key], e, credentials, workdir) for e in selected}
        skipped = probe_and_warm_up(targets, credentials, args)
        live = [targets[e.key] for e in selected if e.key not in skipped]
        runs = peak_rounds(live, args, backend_pids)
        results = {
            t.endpoint.key: combine(database, t.endpoint, runs[t.endpoint.key]) for t in live
        }
        for target in live:
            at_half_peak(target, results[target.endpoint.key], credentials, args, backend_pids)

    if any(r.non_2xx or (r.half and r.half["non_2xx"]) for r in results.values()):
        log(f"  server log (last lines):\n{tail(workdir / f'{database}-server.log')}")
    return [
        Result(database, e, skipped=skipped[e.key]) if e.key in skipped else results[e.key]
        for e in selected
    ]


def probe_and_warm_up(
    targets: dict[str, Target], credentials: Credentials, args: argparse.Namespace
) -> dict[str, str]:
    """Probe every endpoint once, warm up those that answer 2xx; {key: why} of the others."""
    skipped: dict[str, str] = {}
    for key, target in targets.items():
        reason = probe(target, credentials)
        if reason:
            log(f"  {target.endpoint.label}: SKIPPED, {reason}")
            skipped[key] = reason
        elif args.warmup:
            log(f"  {target.endpoint.label}: probe 2xx; warm-up {args.warmup} s")
            run_wrk(target, args.warmup, args)
    return skipped


def peak_rounds(
    targets: list[Target], args: argparse.Namespace, backend_pids: Callable[[], set[int]]
) -> dict[str, list[dict]]:
    """``--rounds`` runs of each endpoint at full concurrency, the endpoints taking turns."""
    runs: dict[str, list[dict]] = {t.endpoint.key: [] for t in targets}
    for round_number in range(1, args.rounds + 1):
        for target in targets:
            load = functools.partial(run_wrk, target, args.duration, args)
            run = measure(load, target.server, backend_pids)
            runs[target.endpoint.key].append(run)
            log(
                f"  round {round_number}/{args.rounds} {target.endpoint.label:<42} "
                f"{describe(run)}  (load avg {os.getloadavg()[0]:.1f})"
            )
    return runs


def at_half_peak(
    target: Target,
    result: Result,
    credentials: Credentials,
    args: argparse.Namespace,
    backend_pids: Callable[[], set[int]],
) -> None:
    """``--duration`` s at a fixed offered load of half the measured peak: result.half."""
    rate = result.rps / 2
    load = functools.partial(run_paced, target, credentials, rate, args.duration)
    result.half = half_peak(measure(load, target.server, backend_pids), rate)
    log(f"  half peak {target.endpoint.label:<42} {describe_half(result.half)}")


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    return f"nproc {cpus}, {model}"


def versions(admin_dsn: str | None) -> str:
    parts = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    if admin_dsn:
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(admin_dsn, connect_timeout=3) as admin:
                parts.append("PostgreSQL " + admin.execute("SHOW server_version").fetchone()[0])
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    first = (wrk.stdout or wrk.stderr).splitlines()
    if first:
        parts.append(first[0].split(" Copyright")[0])
    return ", ".join(parts)


def cpu_total(result: Result) -> float | None:
    if result.app_cpu_ms is None:
        return None
    return result.app_cpu_ms + (result.db_cpu_ms or 0.0)


def cpu_cell(result: Result) -> str:
    if result.app_cpu_ms is None:
        return "-"
    if result.db_cpu_ms:
        return f"{result.app_cpu_ms:.2f} + {result.db_cpu_ms:.2f} db"
    return f"{result.app_cpu_ms:.2f}"


def floor_of(result: Result, results: list[Result]) -> Result | None:
    return next(
        (r for r in results if r.database == result.database and r.endpoint is BASELINE), None
    )


def cpu_verdict(result: Result, floor: Result | None) -> tuple[str, str]:
    """(ratio of CPU per request to the floor's, target cell)."""
    target = result.endpoint.cpu_target
    if target is None:
        return "1.00", "(floor)"
    mine = cpu_total(result)
    floors = cpu_total(floor) if floor and not floor.skipped else None
    if mine is None or not floors:
        return "n/a", f"<= {target:.1f}: no floor CPU"
    ratio = mine / floors
    return f"{ratio:.2f}", f"<= {target:.1f}: {'met' if ratio <= target else 'NOT MET'}"


def half_cells(result: Result) -> tuple[str, str]:
    """(p99 at half peak with the achieved rate, target cell)."""
    half = result.half
    if not half:
        return "-", "-"
    cell = f"{half['p99_ms']:.1f} at {half['rps']:.0f}/s"
    if half["non_2xx"] or half["socket_errors"]:
        cell += f" ({half['non_2xx']} non-2xx, {half['socket_errors']} socket)"
    met = "met" if half["p99_ms"] <= P99_HALF_PEAK_TARGET_MS else "NOT MET"
    return cell, ("(floor) " if result.endpoint is BASELINE else "") + met


def errors_cell(result: Result) -> str:
    cell = str(result.non_2xx)
    if result.socket_errors:
        cell += f" (+{result.socket_errors} socket)"
    if result.replayed:
        cell += f" ({result.replayed} replayed)"
    return cell


COLUMNS = (
    "Endpoint",
    "req/s",
    "p50 ms",
    "p99 ms",
    "non-2xx",
    "server CPU ms/req",
    "CPU ratio to floor",
    "CPU target",
    "p99 ms at half peak (achieved rate)",
    f"p99 <= {P99_HALF_PEAK_TARGET_MS:.0f} ms",
)


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    """One row of cells per result, in COLUMNS' order."""
    table = []
    for result in results:
        label = result.endpoint.label
        if result.skipped:
            table.append(
                (label, "-", "-", "-", "-", "-", "-", f"skipped: {result.skipped}", "-", "-")
            )
            continue
        ratio, target = cpu_verdict(result, floor_of(result, results))
        half, half_target = half_cells(result)
        table.append(
            (
                label,
                f"{result.rps:.0f}",
                f"{result.p50_ms:.1f}",
                f"{result.p99_ms:.1f}",
                errors_cell(result),
                cpu_cell(result),
                ratio,
                target,
                half,
                half_target,
            )
        )
    return table


def text_table(results: list[Result], database: str) -> str:
    mine = [r for r in results if r.database == database]
    table = [COLUMNS, *rows(mine)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = [f"{database}:"]
    for number, row in enumerate(table):
        lines.append(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width) if i < 7 else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    statuses = "; ".join(
        f"{r.endpoint.label} {r.statuses}" for r in mine if not r.skipped and r.statuses
    )
    if statuses:
        lines.append(f"statuses at peak: {statuses}")
    return "\n".join(lines)


def markdown(results: list[Result], header: str) -> str:
    lines = [
        header,
        "",
        "| Database | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---:|" * 6 + "---|---:|---|",
    ]
    for result, row in zip(results, rows(results), strict=True):
        label = f"`{row[0]}`" if row[0].startswith("POST") else row[0]
        lines.append(f"| {result.database} | {label} | " + " | ".join(row[1:]) + " |")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration",
        type=int,
        default=10,
        help="seconds of each measured round, and of the run at half peak (default 10)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per endpoint")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="peak runs per endpoint, taking turns with the others (default 3)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads at peak (default 1)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--server-threads", type=int, default=0, help="gunicorn --threads (default: sync workers)"
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=0,
        help="resident devices whose tokens take turns (default 4 x connections)",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="comma-separated (baseline is the floor, alias floor); all by default: "
        + ",".join(ENDPOINTS),
    )
    parser.add_argument(
        "--pg-admin-dsn",
        default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        help="where to create and drop the throwaway database",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="SQLAlchemy URL of the same server, without the database name",
    )
    args = parser.parse_args(argv)
    args.devices = args.devices or 4 * args.connections
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = set(args.databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    try:
        keys = [e.strip() for e in args.endpoints.split(",") if e.strip()]
        args.endpoints = [ENDPOINTS[ALIASES.get(key, key)] for key in keys]
    except KeyError as error:
        parser.error(f"unknown endpoint {error}")
    return args


def _terminate(signum, frame):  # noqa: ANN001, ANN202
    raise KeyboardInterrupt


def header_text(args: argparse.Namespace, started: datetime, pg_problem: str | None) -> str:
    with_pg = "postgresql" in args.databases and not pg_problem
    return (
        f"Machine: {machine()}; {started:%Y-%m-%d %H:%M} UTC; "
        f"{versions(args.pg_admin_dsn if with_pg else None)}.\n"
        f"Load: wrk -t{args.wrk_threads} -c{args.connections}; per endpoint {args.warmup} s "
        f"warm-up, then {args.rounds} x {args.duration} s at peak, the endpoints taking turns, "
        f"then {args.duration} s at a fixed offered load of half the peak requests/s "
        f"(open-loop, a connection per request); gunicorn --workers {args.workers}"
        + (f" --threads {args.server_threads}" if args.server_threads else " (sync)")
        + f"; {args.devices} resident tokens in turn; rate limits off. Server CPU: gunicorn "
        "user + sys (+ the PostgreSQL backends); CPU ratio = CPU ms/req over the floor's, same "
        f"run and database. Load average at the start: {os.getloadavg()[0]:.1f}. The servers, "
        "the database and wrk share these CPUs: compare the CPU ratios more than the absolute "
        "figures."
    )


def run_all(args: argparse.Namespace, pg_problem: str | None, workdir: Path) -> list[Result]:
    results: list[Result] = []
    for database in args.databases:
        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[database]
        if database == "postgresql" and pg_problem:
            log(f"\nPostgreSQL: SKIPPED, not reachable ({pg_problem})")
            results += [
                Result(label, e, skipped="PostgreSQL not reachable") for e in args.endpoints
            ]
            continue
        log(f"\n{label}:")
        dbdir = workdir / database
        dbdir.mkdir()
        with contextlib.ExitStack() as stack:
            backends: Callable[[], set[int]] = set  # SQLite runs inside the workers
            if database == "sqlite":
                url = stack.enter_context(sqlite_database(dbdir))
            else:
                url = stack.enter_context(postgresql_database(args.pg_admin_dsn, args.pg_url))
                backends = postgresql_backends(args.pg_admin_dsn, url.rsplit("/", 1)[1])
            results += bench_database(label, url, dbdir, args.endpoints, args, backends)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        log(
            "wrk is not installed. Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install "
            "wrk; or build it from https://github.com/wg/wrk."
        )
        return 2
    signal.signal(signal.SIGTERM, _terminate)

    started = datetime.now(UTC)
    pg_problem = postgresql_problem(args.pg_admin_dsn) if "postgresql" in args.databases else None
    header = header_text(args, started, pg_problem)
    log(header)

    workdir = Path(tempfile.mkdtemp(prefix="copa-bench-"))
    try:
        results = run_all(args, pg_problem, workdir)
    except KeyboardInterrupt:
        log("\ninterrupted; cleaned up")
        return 130
    except BenchError as error:
        log(f"\nfailed: {error}")
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    for database in dict.fromkeys(r.database for r in results):
        print()
        print(text_table(results, database))
    print()
    print(markdown(results, header))
    print()
    command = ["bench/submit.py", *(sys.argv[1:] if argv is None else argv)]
    print(f"Command: .venv/bin/python {shlex.join(command)}")
    elapsed = datetime.now(UTC) - started
    print(f"Run time: {elapsed.total_seconds() / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
