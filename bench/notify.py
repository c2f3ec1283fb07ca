"""Push benchmark: pushes to residents per second through the fake FCM, with 1 and 2 relays.

Run by hand from the repository root (never by the test suite):

    .venv/bin/python bench/notify.py                          # 2,000 pushes; 1 and 2 relays
    .venv/bin/python bench/notify.py --pushes 10000 --relays 1,2,4 --batch-size 50

For each relay count: a throwaway PostgreSQL database on 127.0.0.1:5432 (created and dropped
here), migrated; N app installs, each with an FCM push token, a notification and its pending
``fcm`` outbox message, inserted straight into the database (SQLAlchemy Core). The fake FCM of
the tests (tests/notifications/fake_push.py: the HTTP v1 send endpoint and the OAuth2 token
endpoint checking the service account's signed assertion) runs in this process on 127.0.0.1.
Then N ``flask copa relay`` processes start with ``COPA_FCM_CREDENTIALS_FILE`` and
``COPA_FCM_URL`` pointing at it, and the clock runs until FCM has seen every notification.
Each relay reads the notification, the install, its preferences and its token at send time,
exactly as in production.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay import stop_relays  # noqa: E402 - bench/ is not a package
from submit import (  # noqa: E402
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
    tail,
)

INSERT_BATCH = 1000


@dataclass
class Outcome:
    relays: int
    pushes: int
    seconds: float = 0.0  # relays started -> last new notification seen
    steady_seconds: float = 0.0  # first seen -> last new seen
    unique: int = 0
    duplicates: int = 0
    token_requests: int = 0
    relay_cpu_s: float | None = None
    db_cpu_s: float | None = None
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return self.unique / self.seconds if self.seconds else 0.0

    @property
    def steady_rate(self) -> float:
        return (self.unique - 1) / self.steady_seconds if self.steady_seconds else 0.0


class Counting:
    """Counts the notifications FCM was sent, first seen and repeated."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: Counter = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request) -> None:
        notification_id = request.data.get("notification_id", "")
        with self.lock:
            now = time.monotonic()
            self.seen[notification_id] += 1
            if self.seen[notification_id] == 1:
                self.first_at = self.first_at or now
                self.last_at = now
                if len(self.seen) >= self.expected:
                    self.done.set()


def load_pushes(url: str, count: int) -> None:
    """``count`` installs with an FCM token, a notification each and its pending push."""
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from copa import create_app
    from copa.auth.models import Device
    from copa.db import db, utcnow
    from copa.notifications.models import Notification, PushToken
    from copa.outbox.models import MessageState, OutboxMessage

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
        for start in range(0, count, INSERT_BATCH):
            now = utcnow()
            devices, tokens, notifications, messages = [], [], [], []
            for n in range(start, min(start + INSERT_BATCH, count)):
                device_id, notification_id = uuid.uuid4(), uuid.uuid4()
                reference = f"COPA-26-{n:06d}"
                devices.append(
                    {"id": device_id, "platform": "android", "created_at": now, "updated_at": now}
                )
                tokens.append(
                    {
                        "id": uuid.uuid4(),
                        "device_id": device_id,
                        "platform": "android",
                        "token": f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                notifications.append(
                    {
                        "id": notification_id,
                        "device_id": device_id,
                        "event": "report.in_progress",
                        "reference": reference,
                        "language": "en",
                        "title": f"Update on {reference}",
                        "body": "Middlesbrough Council is working on your report.",
                        "created_at": now,
                    }
                )
                messages.append(
                    {
                        "id": uuid.uuid4(),
                        "event_type": "notification.report.in_progress",
                        "notification_id": notification_id,
                        "channel": "fcm",
                        "payload": {"notification_id": str(notification_id)},
                        "state": MessageState.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
            db.session.execute(sa.insert(Device.__table__), devices)
            db.session.execute(sa.insert(PushToken.__table__), tokens)
            db.session.execute(sa.insert(Notification.__table__), notifications)
            db.session.execute(sa.insert(OutboxMessage.__table__), messages)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def bench_relays(count: int, args: argparse.Namespace, workdir: Path) -> Outcome:
    from tests.notifications.fake_push import FakeFcm

    outcome = Outcome(count, args.pushes)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgresql_database(args.pg_admin_dsn, args.pg_url))
        backend_pids = postgresql_backends(args.pg_admin_dsn, url.rsplit("/", 1)[1])
        fcm = stack.enter_context(FakeFcm())
        counting = Counting(args.pushes)
        fcm.on_send = counting
        env = base_environment()
        env.update(
            COPA_ENV="development",
            COPA_DATABASE_URL=url,
            COPA_SECRET_KEY=secrets.token_urlsafe(48),
            COPA_JWT_SECRET_KEY=secrets.token_urlsafe(48),
            COPA_LOG_LEVEL="WARNING",
            COPA_RELAY_POLL_SECONDS="0.2",
            COPA_RELAY_BATCH_SIZE=str(args.batch_size),
            COPA_FCM_CREDENTIALS_FILE=str(fcm.service_account_file(workdir)),
            COPA_FCM_URL=fcm.url,
            COPA_MAIL_DIR=str(workdir / "mail"),
        )
        log("  migrating")
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        run_checked([*flask, "db", "upgrade"], env, "migrate")
        started = time.monotonic()
        load_pushes(url, args.pushes)
        log(f"  inserted {args.pushes} pending pushes in {time.monotonic() - started:.1f} s")

        relays: list[subprocess.Popen] = []
        stack.callback(stop_relays, relays)
        logs = [workdir / f"relays{count}-{n}.log" for n in range(count)]
        db_before = cpu_by_pid(backend_pids(), command="postgres") if HAS_PROC else {}
        started = time.monotonic()
        for n in range(count):
            with open(logs[n], "ab") as log_file:
                relays.append(
                    subprocess.Popen(
                        [*flask, "copa", "relay", "--owner", f"bench-push-{count}-{n}"],
                        cwd=ROOT,
                        env=env,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = started + args.timeout
        while not counting.done.wait(0.2):
            if time.monotonic() > deadline:
                outcome.timed_out = True
                break
            dead = [p for p in relays if p.poll() is not None]
            if dead:
                raise BenchError(
                    f"a relay exited ({dead[0].returncode}):\n{tail(logs[relays.index(dead[0])])}"
                )
        if HAS_PROC:
            outcome.relay_cpu_s = sum(cpu_by_pid({p.pid for p in relays}).values())
            outcome.db_cpu_s = cpu_used(db_before, cpu_by_pid(backend_pids(), command="postgres"))
        stop_relays(relays)
        with counting.lock:
            outcome.unique = len(counting.seen)
            outcome.duplicates = sum(counting.seen.values()) - len(counting.seen)
            if counting.last_at is not None:
                outcome.seconds = counting.last_at - started
                outcome.steady_seconds = counting.last_at - (counting.first_at or counting.last_at)
        outcome.token_requests = len(fcm.token_requests)
        if outcome.timed_out:
            log(f"  timed out after {args.timeout} s; relay log:\n{tail(logs[0])}")
    return outcome


def markdown(outcomes: list[Outcome], header: str) -> str:
    lines = [
        header,
        "",
        "| Relays | Pushes | pushes/s | steady pushes/s | wall s | duplicates | OAuth2 tokens "
        "| relay CPU ms/push | db CPU ms/push |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        relay_cpu = f"{o.relay_cpu_s / o.unique * 1000:.2f}" if o.relay_cpu_s and o.unique else "-"
        db_cpu = f"{o.db_cpu_s / o.unique * 1000:.2f}" if o.db_cpu_s and o.unique else "-"
        delivered = f"{o.unique}" + (" (TIMED OUT)" if o.timed_out else "")
        lines.append(
            f"| {o.relays} | {delivered} | {o.rate:.0f} | {o.steady_rate:.0f} | {o.seconds:.1f} "
            f"| {o.duplicates} | {o.token_requests} | {relay_cpu} | {db_cpu} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=2000, help="pending pushes to deliver")
    parser.add_argument("--relays", default="1,2", help="comma-separated relay counts")
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
    if not args.relays or min(args.relays) < 1 or args.pushes < 1 or args.batch_size < 1:
        parser.error("--relays, --pushes and --batch-size must be positive")
    return args


def _terminate(signum, frame):  # noqa: ANN001, ANN202
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    sys.path.insert(0, str(ROOT))
    problem = postgresql_problem(args.pg_admin_dsn)
    if problem:
        log(f"PostgreSQL is not reachable ({problem}); this benchmark needs it.")
        return 2
    import psycopg

    with psycopg.connect(args.pg_admin_dsn, connect_timeout=3) as admin:
        version = admin.execute("SHOW server_version").fetchone()[0]
    header = (
        f"Machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; PostgreSQL {version}. "
        f"{args.pushes} pending FCM pushes per run, COPA_RELAY_BATCH_SIZE={args.batch_size}, "
        "COPA_RELAY_POLL_SECONDS=0.2; the fake FCM (HTTP/1.1 keep-alive, in the benchmark's "
        "process) answers 200 at once. The relays, the database and the fake share these CPUs. "
        "pushes/s counts from the relays' start (Python start-up and the OAuth2 token included); "
        "steady pushes/s from the first push to the last."
    )
    log(header)
    outcomes: list[Outcome] = []
    workdir = Path(tempfile.mkdtemp(prefix="copa-bench-notify-"))
    try:
        for count in args.relays:
            log(f"\n{count} relay{'s' if count > 1 else ''}:")
            outcome = bench_relays(count, args, workdir)
            outcomes.append(outcome)
            log(
                f"  {outcome.unique} pushed in {outcome.seconds:.1f} s: {outcome.rate:.0f}/s"
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
    command = ["bench/notify.py", *(sys.argv[1:] if argv is None else argv)]
    print(f"Command: .venv/bin/python {shlex.join(command)}")
    return 1 if any(o.timed_out for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
