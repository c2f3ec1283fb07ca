"""Submission benchmark: POST /v1/reports and POST /v1/confidence/votes against a bare baseline.

Run by hand from the repository root (never by the test suite):

    .venv/bin/python bench/submit.py                 # SQLite, then PostgreSQL if reachable
    .venv/bin/python bench/submit.py --duration 30 --databases postgresql

For each database (a temporary SQLite file; a throwaway PostgreSQL database on 127.0.0.1:5432,
created and dropped here) it migrates, loads the demo data, serves copa with
``gunicorn --workers 2 wsgi:app`` (production settings, random secrets, rate limits off) and
drives each endpoint with wrk at a fixed concurrency, after a warm-up. The baseline,
bench/baseline_app.py, is Flask + marshmallow + one SQLAlchemy Core insert into the same
database behind the same gunicorn settings: the floor this stack reaches on this machine.
It prints requests/s, p50/p99 latency and non-2xx counts, the ratios to the baseline, the
targets met or not, and a markdown table for the README.

Needs wrk (``apt-get install wrk`` on Debian/Ubuntu, ``brew install wrk`` on macOS).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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

P99_TARGET_MS = 100.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
HAS_PROC = Path("/proc/self/stat").exists()


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    body: dict
    authenticated: bool
    ratio_target: float | None  # of the baseline's requests/s; None for the baseline itself


BASELINE = Endpoint(
    "baseline",
    "baseline (Flask + marshmallow + Core insert)",
    "/baseline",
    REPORT_BODY,
    False,
    None,
)
REPORTS = Endpoint("reports", "POST /v1/reports", "/v1/reports", REPORT_BODY, True, 0.6)
VOTES = Endpoint("votes", "POST /v1/confidence/votes", "/v1/confidence/votes", VOTE_BODY, True, 0.8)
ENDPOINTS = {e.key: e for e in (BASELINE, REPORTS, VOTES)}


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
    statuses: dict | None = None
    socket_errors: int = 0
    skipped: str | None = None
    rounds: int = 0
    app_cpu_ms: float | None = None  # CPU of the gunicorn processes per request
    db_cpu_ms: float | None = None  # CPU of the PostgreSQL backends per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


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


def post_json(url: str, body: dict, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


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


def run_wrk(
    base_url: str,
    endpoint: Endpoint,
    body_file: Path,
    tokens_file: Path | None,
    seconds: int,
    args: argparse.Namespace,
) -> dict:
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base_url,
        "--",
        endpoint.path,
        str(body_file),
        str(tokens_file) if tokens_file else "-",
        str(args.wrk_threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise BenchError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def probe(base_url: str, endpoint: Endpoint, tokens: list[str]) -> str | None:
    """One request before the load: None when it succeeds, else why the endpoint is skipped."""
    token = tokens[0] if endpoint.authenticated else None
    status, text = post_json(base_url + endpoint.path, endpoint.body, token)
    if 200 <= status < 300:
        return None
    if status in (404, 405):
        return f"endpoint not there yet ({status})"
    return f"probe answered {status}: {text[:300]}"


def measure_once(
    base_url: str,
    endpoint: Endpoint,
    workdir: Path,
    tokens: list[str],
    seconds: int,
    args: argparse.Namespace,
) -> dict:
    body_file = workdir / f"{endpoint.key}.json"
    body_file.write_text(json.dumps(endpoint.body))
    tokens_file = None
    if endpoint.authenticated:
        tokens_file = workdir / "tokens.txt"
        tokens_file.write_text("\n".join(tokens) + "\n")
    return run_wrk(base_url, endpoint, body_file, tokens_file, seconds, args)


def combine(database: str, endpoint: Endpoint, runs: list[dict]) -> Result:
    """Requests/s over all rounds; latency percentiles and max as the median round's."""

    def median(key: str) -> float:
        values = sorted(run[key] for run in runs)
        return values[len(values) // 2] / 1000

    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
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
        statuses=statuses,
        socket_errors=sum(
            run["connect_errors"] + run["read_errors"] + run["write_errors"] + run["timeouts"]
            for run in runs
        ),
        rounds=len(runs),
        app_cpu_ms=_per_request(runs, "app_cpu_s"),
        db_cpu_ms=_per_request(runs, "db_cpu_s"),
    )


def _per_request(runs: list[dict], key: str) -> float | None:
    requests = sum(run["requests"] for run in runs)
    if not requests or any(key not in run for run in runs):
        return None
    return sum(run[key] for run in runs) / requests * 1000


def describe(run: dict) -> str:
    rps = run["requests"] / (run["duration_us"] / 1e6)
    errors = run["connect_errors"] + run["read_errors"] + run["write_errors"] + run["timeouts"]
    return (
        f"{rps:8.1f} req/s  p50 {run['p50_us'] / 1000:6.1f} ms  p90 {run['p90_us'] / 1000:6.1f} ms"
        f"  p99 {run['p99_us'] / 1000:6.1f} ms  max {run['max_us'] / 1000:6.1f} ms"
        f"  non-2xx {run['non_2xx']}"
        + (f" {run['statuses']}" if run["statuses"] else "")
        + (f"  socket errors {errors}" if errors else "")
        + (
            f"  CPU/req app {run['app_cpu_s'] / run['requests'] * 1000:.2f} ms"
            f" db {run['db_cpu_s'] / run['requests'] * 1000:.2f} ms"
            if "app_cpu_s" in run and run["requests"]
            else ""
        )
    )


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


# --- one database -------------------------------------------------------------------------


def base_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPA_", "BENCH_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def gunicorn_command(args: argparse.Namespace, app: str, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers)]
    if args.server_threads:
        command += ["--threads", str(args.server_threads)]
    return [*command, *extra, app]


def bench_database(
    database: str,
    url: str,
    workdir: Path,
    selected: list[Endpoint],
    args: argparse.Namespace,
    backend_pids: Callable[[], set[int]] = set,
) -> list[Result]:
    results = []
    env = base_environment()
    env.update(
        COPA_ENV="production",
        COPA_DATABASE_URL=url,
        COPA_SECRET_KEY=secrets.token_urlsafe(48),
        COPA_JWT_SECRET_KEY=secrets.token_urlsafe(48),
        COPA_RATELIMIT_ENABLED="false",
        COPA_LOG_LEVEL="WARNING",
        COPA_DEMO_PASSWORD=secrets.token_urlsafe(16),
        COPA_ACCESS_TOKEN_MINUTES="120",
        COPA_PHOTO_STORAGE_DIR=str(workdir / "photos"),
    )
    server_log = workdir / f"{database}-server.log"
    copa_endpoints = [e for e in selected if e is not BASELINE]
    if copa_endpoints:
        log("  migrating and loading the demo data")
        run_checked(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env, "migrate"
        )
        run_checked(
            [sys.executable, "-m", "flask", "--app", "wsgi", "copa", "seed-demo"], env, "seed-demo"
        )
    baseline_env = base_environment() | {"BENCH_DATABASE_URL": url}
    if BASELINE in selected:
        run_checked(
            [sys.executable, str(BENCH / "baseline_app.py")], baseline_env, "baseline table"
        )

    # Both servers run side by side (an idle one costs nothing) so that the rounds can take
    # turns: a machine whose load drifts during the run then weighs on every endpoint alike.
    with contextlib.ExitStack() as servers:
        by_endpoint: dict[str, Server] = {}
        tokens: list[str] = []
        if BASELINE in selected:
            command = gunicorn_command(args, "baseline_app:app", "--pythonpath", str(BENCH))
            by_endpoint[BASELINE.key] = servers.enter_context(
                serving(command, baseline_env, workdir / f"{database}-baseline.log")
            )
        if copa_endpoints:
            copa = servers.enter_context(
                serving(gunicorn_command(args, "wsgi:app"), env, server_log)
            )
            tokens = register_devices(copa.url, args.devices)
            log(f"  registered {len(tokens)} devices")
            by_endpoint.update({e.key: copa for e in copa_endpoints})

        skipped: dict[str, str] = {}
        for endpoint in selected:
            server = by_endpoint[endpoint.key]
            reason = probe(server.url, endpoint, tokens)
            if reason:
                log(f"  {endpoint.label}: SKIPPED, {reason}")
                skipped[endpoint.key] = reason
            elif args.warmup:
                log(f"  {endpoint.label}: warm-up {args.warmup} s")
                measure_once(server.url, endpoint, workdir, tokens, args.warmup, args)

        runs: dict[str, list[dict]] = {e.key: [] for e in selected}
        for round_number in range(1, args.rounds + 1):
            for endpoint in selected:
                if endpoint.key in skipped:
                    continue
                server = by_endpoint[endpoint.key]
                app_before = cpu_by_pid(pgid=server.pgid) if HAS_PROC else {}
                db_before = cpu_by_pid(backend_pids(), command="postgres") if HAS_PROC else {}
                run = measure_once(server.url, endpoint, workdir, tokens, args.duration, args)
                if HAS_PROC:
                    run["app_cpu_s"] = cpu_used(app_before, cpu_by_pid(pgid=server.pgid))
                    run["db_cpu_s"] = cpu_used(
                        db_before, cpu_by_pid(backend_pids(), command="postgres")
                    )
                runs[endpoint.key].append(run)
                log(
                    f"  round {round_number}/{args.rounds} {endpoint.label:<46} {describe(run)}"
                    f"  (load avg {os.getloadavg()[0]:.1f})"
                )

    results = []
    for endpoint in selected:
        if endpoint.key in skipped:
            results.append(Result(database, endpoint, skipped=skipped[endpoint.key]))
        else:
            results.append(combine(database, endpoint, runs[endpoint.key]))
    if any(r.non_2xx for r in results):
        log(f"  server log (last lines):\n{tail(server_log)}")
    return results


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


def verdict(result: Result, baseline: Result | None) -> tuple[str, str, str]:
    """(ratio, throughput target, p99 target) cells."""
    if result.endpoint.ratio_target is None:
        return "1.00", "(floor)", _p99_cell(result)
    if baseline is None or baseline.skipped or not baseline.rps:
        return "n/a", f">= {result.endpoint.ratio_target:.1f}: no baseline", _p99_cell(result)
    ratio = result.rps / baseline.rps
    met = "met" if ratio >= result.endpoint.ratio_target else "NOT MET"
    return f"{ratio:.2f}", f">= {result.endpoint.ratio_target:.1f}: {met}", _p99_cell(result)


def _p99_cell(result: Result) -> str:
    if result.endpoint.ratio_target is None:
        return "(floor)"
    return "met" if result.p99_ms < P99_TARGET_MS else "NOT MET"


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


def markdown(results: list[Result], header: str) -> str:
    lines = [
        header,
        "",
        "| Database | Endpoint | req/s | p50 ms | p99 ms | non-2xx | server CPU ms/req "
        f"| ratio to baseline (CPU) | throughput target | p99 < {P99_TARGET_MS:.0f} ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for result in results:
        baseline = next(
            (r for r in results if r.database == result.database and r.endpoint is BASELINE), None
        )
        if result.skipped:
            lines.append(
                f"| {result.database} | {result.endpoint.label} | - | - | - | - | - | - "
                f"| skipped: {result.skipped} | |"
            )
            continue
        ratio, throughput, p99 = verdict(result, baseline)
        errors = str(result.non_2xx)
        if result.socket_errors:
            errors += f" (+{result.socket_errors} socket)"
        cpu = cpu_cell(result)
        if cpu != "-" and baseline and cpu_total(baseline) and result is not baseline:
            ratio += f" ({cpu_total(baseline) / cpu_total(result):.2f})"
        lines.append(
            f"| {result.database} | {result.endpoint.label} | {result.rps:.0f} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {errors} | {cpu} | {ratio} "
            f"| {throughput} | {p99} |"
        )
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per endpoint")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measured runs per endpoint, taking turns with the others (default 3)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
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
        default="baseline,reports,votes",
        help="comma-separated: " + ",".join(ENDPOINTS),
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
        args.endpoints = [ENDPOINTS[e.strip()] for e in args.endpoints.split(",") if e.strip()]
    except KeyError as error:
        parser.error(f"unknown endpoint {error}")
    return args


def _terminate(signum, frame):  # noqa: ANN001, ANN202
    raise KeyboardInterrupt


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
    header = (
        f"Machine: {machine()}; {started:%Y-%m-%d %H:%M} UTC; "
        f"{versions(args.pg_admin_dsn if 'postgresql' in args.databases and not pg_problem else None)}.\n"
        f"Load: wrk -t{args.wrk_threads} -c{args.connections}; per endpoint {args.warmup} s "
        f"warm-up, then {args.rounds} x {args.duration} s, the endpoints taking turns; "
        f"gunicorn --workers {args.workers}"
        + (f" --threads {args.server_threads}" if args.server_threads else " (sync)")
        + f"; {args.devices} resident tokens in turn; rate limits off. Load average at the "
        f"start: {os.getloadavg()[0]:.1f}. The servers, the database and wrk share these CPUs: "
        "compare the ratios more than the absolute figures."
    )
    log(header)

    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="copa-bench-"))
    try:
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
    except KeyboardInterrupt:
        log("\ninterrupted; cleaned up")
        return 130
    except BenchError as error:
        log(f"\nfailed: {error}")
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(markdown(results, header))
    print()
    command = ["bench/submit.py", *(sys.argv[1:] if argv is None else argv)]
    print(f"Command: .venv/bin/python {shlex.join(command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
