"""Relay benchmark: webhook deliveries per second with 1, 2 and 4 relays on PostgreSQL.

Run by hand from the repository root (never by the test suite):

    .venv/bin/python bench/relay.py                          # 10,000 messages; 1, 2, 4 relays
    .venv/bin/python bench/relay.py --messages 2000 --relays 1,2 --batch-size 20

For each relay count: a throwaway PostgreSQL database on 127.0.0.1:5432 (created and dropped
here), migrated and loaded with the demo data; Middlesbrough Council switched to the webhook
channel with an endpoint on a local receiver (a ThreadingHTTPServer on 127.0.0.1 that answers
200 at once and counts the webhook-ids it sees); the referrals, their reports and their pending
outbox messages inserted straight into the database (SQLAlchemy Core, not the HTTP API). Then N
``flask copa relay`` processes start, and the clock runs until the receiver has seen every
message id. Deliveries are at least once: duplicates are counted, never an error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from submit import (  # noqa: E402 - bench/ is not a package
    HAS_PROC,
    ROOT,
    BenchError,
    base_environment,
    cpu_by_pid,
    cpu_used,
    log,
    machine,
    postgresql_backends,
    postgresql_database,
    postgresql_problem,
    run_checked,
    stop_group,
    tail,
)

PARTNER = "middlesbrough-council"
INSERT_BATCH = 1000


@dataclass
class Outcome:
    relays: int
    messages: int
    seconds: float = 0.0  # relays started -> last new id seen
    steady_seconds: float = 0.0  # first id seen -> last new id seen
    unique: int = 0
    duplicates: int = 0
    relay_cpu_s: float | None = None
    db_cpu_s: float | None = None
    # From the first delivery seen on: without the relays' start-up (imports, app, connections).
    steady_relay_cpu_s: float | None = None
    steady_db_cpu_s: float | None = None
    steady_messages: int = 0
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return self.unique / self.seconds if self.seconds else 0.0

    @property
    def steady_rate(self) -> float:
        # Between the first and the last delivery: without the relays' start-up.
        return (self.unique - 1) / self.steady_seconds if self.steady_seconds else 0.0


# --- the partner's receiver ---------------------------------------------------------------


class Receiver:
    """Answers 200 to every POST on 127.0.0.1 (keeping connections alive, as partners' web
    servers do) and counts webhook-ids, first seen and repeated."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: set[str] = set()
        self.duplicates = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.done = threading.Event()
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                webhook_id = self.headers.get("webhook-id") or ""
                with lock:
                    now = time.monotonic()
                    if webhook_id in receiver.seen:
                        receiver.duplicates += 1
                    elif webhook_id:
                        receiver.seen.add(webhook_id)
                        receiver.first_at = receiver.first_at or now
                        receiver.last_at = now
                        if len(receiver.seen) >= receiver.expected:
                            receiver.done.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()  # HTTP/1.1: the relay may keep the connection alive

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# --- the data -----------------------------------------------------------------------------


def load_messages(url: str, endpoint_url: str, count: int) -> None:
    """The partner on the webhook channel, and ``count`` referrals with pending messages."""
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from copa import create_app
    from copa.catalog.models import Category
    from copa.db import db, utcnow
    from copa.outbox.models import MessageState, OutboxMessage
    from copa.outbox.signing import new_secret
    from copa.reports.models import Report, ReportStatus
    from copa.routing.models import Channel, Partner, Referral, ReferralState

    app = create_app(
        {
            "ENV": "development",
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        partner = db.session.scalar(sa.select(Partner).where(Partner.code == PARTNER))
        if partner is None:
            raise BenchError(f"seed-demo made no partner {PARTNER}")
        partner.channel = Channel.WEBHOOK
        partner.endpoint_url = endpoint_url
        partner.webhook_secrets = [new_secret()]
        partner.endpoint_disabled_at = None
        category_id = db.session.scalar(
            sa.select(Category.id).where(Category.code == "fly_tipping")
        )
        partner_id, kind, name = partner.id, partner.kind, partner.name
        db.session.commit()

        tag = secrets.token_hex(2).upper()
        for start in range(0, count, INSERT_BATCH):
            now = utcnow()
            reports, referrals, messages = [], [], []
            for n in range(start, min(start + INSERT_BATCH, count)):
                report_id, referral_id = uuid.uuid4(), uuid.uuid4()
                reports.append(
                    {
                        "id": report_id,
                        "reference": f"BENCH-{tag}-{n:07d}",
                        "category_id": category_id,
                        "description": f"Benchmark fly-tipping report {n}",
                        "lat": 54.5762,
                        "lon": -1.2348,
                        "answers": {},
                        "status": ReportStatus.ROUTED,
                        "destination_kind": kind,
                        "destination_name": name,
                    }
                )
                referrals.append(
                    {
                        "id": referral_id,
                        "report_id": report_id,
                        "partner_id": partner_id,
                        "state": ReferralState.SENT,
                    }
                )
                messages.append(
                    {
                        "event_type": "referral.created",
                        "partner_id": partner_id,
                        "referral_id": referral_id,
                        "channel": Channel.WEBHOOK,
                        "payload": {"referral_id": str(referral_id), "report_id": str(report_id)},
                        "state": MessageState.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
            db.session.execute(sa.insert(Report.__table__), reports)
            db.session.execute(sa.insert(Referral.__table__), referrals)
            db.session.execute(sa.insert(OutboxMessage.__table__), messages)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


# --- one run ------------------------------------------------------------------------------


def stop_relays(relays: list[subprocess.Popen]) -> None:
    """SIGTERM to every relay at once (each finishes the message in hand), then SIGKILL."""
    for process in relays:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in relays:
        stop_group(process)  # waits up to 15 s, then SIGKILL


def bench_relays(count: int, args: argparse.Namespace, workdir: Path) -> Outcome:
    outcome = Outcome(count, args.messages)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgresql_database(args.pg_admin_dsn, args.pg_url))
        backend_pids = postgresql_backends(args.pg_admin_dsn, url.rsplit("/", 1)[1])
        env = base_environment()
        env.update(
            COPA_ENV="development",
            COPA_DATABASE_URL=url,
            COPA_SECRET_KEY=secrets.token_urlsafe(48),
            COPA_JWT_SECRET_KEY=secrets.token_urlsafe(48),
            COPA_DEMO_PASSWORD=secrets.token_urlsafe(16),
            COPA_LOG_LEVEL="WARNING",
            COPA_ALLOW_LOOPBACK_TARGETS="true",
            COPA_RELAY_POLL_SECONDS="0.2",
            COPA_RELAY_BATCH_SIZE=str(args.batch_size),
            COPA_PHOTO_STORAGE_DIR=str(workdir / "photos"),
            COPA_MAIL_DIR=str(workdir / "mail"),
        )
        log("  migrating and loading the demo data")
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        run_checked([*flask, "db", "upgrade"], env, "migrate")
        run_checked([*flask, "copa", "seed-demo"], env, "seed-demo")

        receiver = stack.enter_context(Receiver(args.messages))
        started = time.monotonic()
        load_messages(url, receiver.url, args.messages)
        log(f"  inserted {args.messages} referrals in {time.monotonic() - started:.1f} s")

        relays: list[subprocess.Popen] = []
        stack.callback(stop_relays, relays)
        logs = [workdir / f"relays{count}-{n}.log" for n in range(count)]
        db_before = cpu_by_pid(backend_pids(), command="postgres") if HAS_PROC else {}
        started = time.monotonic()
        for n in range(count):
            with open(logs[n], "ab") as log_file:
                relays.append(
                    subprocess.Popen(
                        [*flask, "copa", "relay", "--owner", f"bench-{count}-{n}"],
                        cwd=ROOT,
                        env=env,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = started + args.timeout
        pids = {p.pid for p in relays}
        steady_from: tuple[int, dict, dict] | None = None
        while not receiver.done.wait(0.05 if steady_from is None else 0.2):
            if steady_from is None and receiver.first_at is not None and HAS_PROC:
                steady_from = (
                    len(receiver.seen),
                    cpu_by_pid(pids),
                    cpu_by_pid(backend_pids(), command="postgres"),
                )
            if time.monotonic() > deadline:
                outcome.timed_out = True
                break
            dead = [p for p in relays if p.poll() is not None]
            if dead:
                raise BenchError(
                    f"a relay exited ({dead[0].returncode}):\n{tail(logs[relays.index(dead[0])])}"
                )
        if HAS_PROC:
            relay_after = cpu_by_pid(pids)
            db_after = cpu_by_pid(backend_pids(), command="postgres")
            outcome.relay_cpu_s = sum(relay_after.values())
            outcome.db_cpu_s = cpu_used(db_before, db_after)
            if steady_from is not None:
                seen, relay_then, db_then = steady_from
                outcome.steady_messages = len(receiver.seen) - seen
                outcome.steady_relay_cpu_s = cpu_used(relay_then, relay_after)
                outcome.steady_db_cpu_s = cpu_used(db_then, db_after)
        stop_relays(relays)
        outcome.unique, outcome.duplicates = len(receiver.seen), receiver.duplicates
        if receiver.last_at is not None:
            outcome.seconds = receiver.last_at - started
            outcome.steady_seconds = receiver.last_at - (receiver.first_at or receiver.last_at)
        if outcome.timed_out:
            log(f"  timed out after {args.timeout} s; relay log:\n{tail(logs[0])}")
    return outcome


# --- report -------------------------------------------------------------------------------


def markdown(outcomes: list[Outcome], header: str) -> str:
    lines = [
        header,
        "",
        "| Relays | Messages | deliveries/s | steady deliveries/s | wall s | duplicates "
        "| relay CPU ms/msg | db CPU ms/msg | steady relay CPU ms/msg | steady db CPU ms/msg "
        "| steady relay + db |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        relay_cpu = f"{o.relay_cpu_s / o.unique * 1000:.2f}" if o.relay_cpu_s and o.unique else "-"
        db_cpu = f"{o.db_cpu_s / o.unique * 1000:.2f}" if o.db_cpu_s and o.unique else "-"
        delivered = f"{o.unique}" + (" (TIMED OUT)" if o.timed_out else "")
        steady = ["-", "-", "-"]
        if o.steady_messages and o.steady_relay_cpu_s is not None:
            relay_ms = o.steady_relay_cpu_s / o.steady_messages * 1000
            db_ms = (o.steady_db_cpu_s or 0.0) / o.steady_messages * 1000
            steady = [f"{relay_ms:.2f}", f"{db_ms:.2f}", f"{relay_ms + db_ms:.2f}"]
        lines.append(
            f"| {o.relays} | {delivered} | {o.rate:.0f} | {o.steady_rate:.0f} "
            f"| {o.seconds:.1f} | {o.duplicates} | {relay_cpu} | {db_cpu} | {' | '.join(steady)} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="referrals to deliver")
    parser.add_argument("--relays", default="1,2,4", help="comma-separated relay counts")
    parser.add_argument("--batch-size", type=int, default=50, help="COPA_RELAY_BATCH_SIZE")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per relay count")
    parser.add_argument(
        "--pg-admin-dsn",
        default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        help="where to create and drop the throwaway databases",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="SQLAlchemy URL of the same server, without the database name",
    )
    args = parser.parse_args(argv)
    try:
        args.relays = [int(n) for n in args.relays.split(",") if n.strip()]
    except ValueError:
        parser.error("--relays is a comma-separated list of numbers")
    if not args.relays or min(args.relays) < 1 or args.messages < 1 or args.batch_size < 1:
        parser.error("--relays, --messages and --batch-size must be positive")
    return args


def _terminate(signum, frame):  # noqa: ANN001, ANN202
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    problem = postgresql_problem(args.pg_admin_dsn)
    if problem:
        log(f"PostgreSQL is not reachable ({problem}); this benchmark needs it.")
        return 2
    import psycopg

    with psycopg.connect(args.pg_admin_dsn, connect_timeout=3) as admin:
        version = admin.execute("SHOW server_version").fetchone()[0]
    header = (
        f"Machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; PostgreSQL {version}. "
        f"{args.messages} webhook referrals per run, COPA_RELAY_BATCH_SIZE={args.batch_size}, "
        "COPA_RELAY_POLL_SECONDS=0.2; the receiver answers 200 at once. The relays, the database "
        "and the receiver share these CPUs. deliveries/s counts from the relays' start (Python "
        "start-up included); steady deliveries/s from the first delivery to the last. relay CPU "
        "and db CPU cover the whole run, each relay's Python start-up (about 1.9 s of CPU) "
        "included; the steady columns count only from the first delivery seen to the last, "
        "which is what a long-running relay costs per message."
    )
    log(header)
    outcomes: list[Outcome] = []
    workdir = Path(tempfile.mkdtemp(prefix="copa-bench-relay-"))
    try:
        for count in args.relays:
            log(f"\n{count} relay{'s' if count > 1 else ''}:")
            outcome = bench_relays(count, args, workdir)
            outcomes.append(outcome)
            log(
                f"  {outcome.unique} delivered in {outcome.seconds:.1f} s: {outcome.rate:.0f}/s"
                f" (steady {outcome.steady_rate:.0f}/s), {outcome.duplicates} duplicates"
            )
    except KeyboardInterrupt:
        log("\ninterrupted; cleaned up")
        return 130
    except BenchError as error:
        log(f"\nfailed: {error}")
        return 1
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(markdown(outcomes, header))
    print()
    command = ["bench/relay.py", *(sys.argv[1:] if argv is None else argv)]
    print(f"Command: .venv/bin/python {shlex.join(command)}")
    return 1 if any(o.timed_out for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
