"""The scheduler (``flask copa scheduler``): housekeeping on a timetable.

``purge`` runs daily and ``reconcile`` nightly (COPA_PURGE_SCHEDULE, COPA_RECONCILE_SCHEDULE:
crontab lines in Europe/London), on APScheduler. Both jobs are safe to run again, but two
schedulers acting at once would do the work twice and report it twice, so only one acts: the
one holding the scheduler lock (PostgreSQL: a session advisory lock on the database; SQLite: a
file lock beside the database file, which is on this machine). Any other stands by and takes
over within COPA_SCHEDULER_STANDBY_SECONDS of the first one stopping or dying, since the lock
goes with its connection or process. An operator may therefore run one on every host.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from copa.db import db
from copa.settings import settings

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
# pg_advisory_lock's key: one number per database, the same in every scheduler of it.
_ADVISORY_KEY = zlib.crc32(b"copa.scheduler")
# How often the one acting checks that its lock is still held (a PostgreSQL restart drops it).
_LOCK_CHECK_SECONDS = 5.0


# --- the jobs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """What one purge deleted, and whether the database files were scrubbed of it."""

    contacts: int
    photos: int
    videos: int
    idempotency_keys: int
    mail_files: int
    scrubbed: bool


def purge(full: bool = False) -> Purged:
    """Delete what is past its retention, then scrub the database files (``flask copa purge``)."""
    from copa.privacy.service import purge_expired_contacts, purge_expired_mail, scrub_purged
    from copa.reports.photos import purge_expired_photos
    from copa.reports.videos import purge_expired_videos
    from copa.web.idempotency import purge_expired

    contacts = purge_expired_contacts()
    photos = purge_expired_photos()
    videos = purge_expired_videos()
    keys = purge_expired()
    mail = purge_expired_mail()
    return Purged(contacts, photos, videos, keys, mail, scrub_purged(full=full))


def purge_job(app: Flask) -> Purged | None:
    """The daily purge, as the scheduler runs it: logged; None when it failed."""
    with app.app_context():
        try:
            result = purge()
        except Exception:
            log.exception("scheduled purge failed")
            return None
    log.info(
        "purge: contact details %d, photos %d, videos %d, idempotency keys %d, mail files %d "
        "deleted%s",
        result.contacts,
        result.photos,
        result.videos,
        result.idempotency_keys,
        result.mail_files,
        "" if result.scrubbed else "; database files not scrubbed (busy), next run retries",
    )
    return result


def reconcile_job(app: Flask) -> int | None:
    """The nightly reconcile: the number of rollup rows that differ from the raw rows (0 when
    they agree), each table's count logged as an error; None when it could not run.

    The hook for a metric of mismatches: count what this returns.
    """
    from copa.metrics.reconcile import reconcile

    with app.app_context():
        try:
            result = reconcile()
        except Exception:
            log.exception("scheduled reconcile failed")
            return None
    per_table: dict[str, int] = {}
    for mismatch in result.mismatches:
        per_table[mismatch.table] = per_table.get(mismatch.table, 0) + 1
    if per_table:
        # Table names and counts only: the keys are in `flask copa reconcile`'s output.
        log.error(
            "reconcile: %d rollup rows differ from the raw rows (%s); "
            "run `flask copa reconcile` to list them, `--repair` to rewrite them",
            len(result.mismatches),
            ", ".join(f"{table} {count}" for table, count in sorted(per_table.items())),
        )
    else:
        log.info("reconcile: %d rollup rows checked, no mismatch", sum(result.rows.values()))
    return len(result.mismatches)


# --- one scheduler at a time ----------------------------------------------------------------


class SchedulerLock:
    """Held by the one scheduler that acts. ``acquire`` never waits; ``held`` tells whether it
    still is; ``release`` gives it back. What holds it is a connection (PostgreSQL) or an open
    file (SQLite), so a scheduler that dies loses it at once."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._connection: sa.Connection | None = None
        self._file: int | None = None

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = connection.scalar(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_KEY}
            )
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        path = self._lock_path()
        if path is None:  # an in-memory database: only this process can see it
            self._file = -1
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._file = fd
        return True

    def held(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.scalar(sa.text("SELECT 1"))
            except sa.exc.DBAPIError:
                return False  # the connection, and with it the lock, is gone
            return True
        return self._file is not None

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sa.exc.DBAPIError):
                # Said outright: closing only returns the connection to the pool, whose
                # session (and the lock with it) lives on.
                self._connection.scalar(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY}
                )
            with contextlib.suppress(sa.exc.DBAPIError):
                self._connection.close()
            self._connection = None
        if self._file is not None:
            if self._file >= 0:
                os.close(self._file)  # releases the flock
            self._file = None

    def _lock_path(self) -> Path | None:
        database = self.engine.url.database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            return None
        return Path(f"{database}.scheduler-lock")


# --- the timetable --------------------------------------------------------------------------


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """The jobs on their timetables (not started). ``ValueError`` for a bad crontab line."""
    with app.app_context():
        config = settings()
    scheduler = BackgroundScheduler(
        timezone=LONDON,
        # A run missed by up to an hour (the scheduler was restarting) still happens; several
        # missed runs happen once.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for name, job, crontab in (
        ("purge", purge_job, config.purge_schedule),
        ("reconcile", reconcile_job, config.reconcile_schedule),
    ):
        try:
            trigger = CronTrigger.from_crontab(crontab, timezone=LONDON)
        except ValueError as error:
            setting = f"COPA_{name.upper()}_SCHEDULE"
            raise ValueError(f"{setting}={crontab!r} is not a crontab line: {error}") from error
        scheduler.add_job(job, trigger, args=[app], id=name, name=name)
    return scheduler


def run_scheduler(app: Flask, stop: threading.Event) -> None:
    """Act while holding the lock, stand by while another does, until ``stop`` is set."""
    # APScheduler's own lines (adding jobs, starting) say less than ours.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    build_scheduler(app)  # a bad timetable stops us before anything else
    with app.app_context():
        lock = SchedulerLock(db.engine)
        standby = settings().scheduler_standby_seconds
    standing_by = False
    while not stop.is_set():
        if not lock.acquire():
            if not standing_by:
                log.info("scheduler: another scheduler holds the lock; standing by")
                standing_by = True
            stop.wait(standby)
            continue
        standing_by = False
        scheduler = build_scheduler(app)
        scheduler.start()
        for job in scheduler.get_jobs():
            log.info("scheduler: %s next at %s", job.name, job.next_run_time.isoformat())
        try:
            while not stop.wait(_LOCK_CHECK_SECONDS):
                if not lock.held():
                    log.error("scheduler: lost the scheduler lock (database gone?); standing by")
                    break
        finally:
            # A job in hand finishes in its thread (its transaction is all or nothing).
            scheduler.shutdown(wait=False)
            lock.release()
    log.info("scheduler: stopped")
