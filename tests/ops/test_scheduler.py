"""The scheduler: purge and reconcile on a London timetable, a mismatch logged as an error, and
only one scheduler acting however many are started."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from copa import create_app
from copa.db import db
from copa.metrics.models import ReportRollup
from copa.scheduler import LONDON, SchedulerLock, build_scheduler, purge_job, reconcile_job
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, load_reference_data, register_device
from tests.factories import scratch_database as scratch_db
from tests.review.support import submit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database(tmp_path):
    with scratch_db(tmp_path, "scheduler") as url:
        yield url


def test_purge_runs_early_each_morning_and_reconcile_after_it_in_london_time(app, monkeypatch):
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)  # works out the next run times without running anything
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    purge, reconcile = jobs["purge"].next_run_time, jobs["reconcile"].next_run_time
    assert (purge.astimezone(LONDON).hour, purge.astimezone(LONDON).minute) == (2, 30)
    assert (reconcile.astimezone(LONDON).hour, reconcile.astimezone(LONDON).minute) == (4, 30)
    assert purge > datetime.now(LONDON)


def test_a_bad_timetable_names_its_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "RECONCILE_SCHEDULE", "every night")
    with pytest.raises(ValueError, match="COPA_RECONCILE_SCHEDULE='every night'"):
        build_scheduler(app)


def test_a_reconcile_mismatch_is_logged_as_an_error_and_counted(app, client, caplog):
    load_reference_data(app)
    submit(client, bearer(register_device(client)["access_token"]))
    assert reconcile_job(app) == 0

    with app.app_context():  # a fault that bypassed the rollups' listener
        db.session.execute(sa.update(ReportRollup).values(count=ReportRollup.count + 2))
        db.session.commit()
    with caplog.at_level(logging.INFO, logger="copa.scheduler"):
        mismatches = reconcile_job(app)

    assert mismatches == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "1 rollup rows differ" in errors[0].getMessage()
    assert "rollup_report 1" in errors[0].getMessage()


def test_the_scheduled_purge_reports_what_it_deleted(app, caplog):
    with caplog.at_level(logging.INFO, logger="copa.scheduler"):
        result = purge_job(app)
    assert result is not None
    assert any(r.getMessage().startswith("purge: contact details") for r in caplog.records)


def test_only_one_scheduler_holds_the_lock_until_it_lets_go(scratch_database):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": scratch_database})
    with app.app_context():
        upgrade()
        first, second = SchedulerLock(db.engine), SchedulerLock(db.engine)
        try:
            assert first.acquire()
            assert first.held()
            assert not second.acquire()
            first.release()
            assert second.acquire()
            assert not first.acquire()
        finally:
            first.release()
            second.release()
            db.session.remove()
            db.engine.dispose()


def _scheduler(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "copa", "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_dies(
    scratch_database, tmp_path
):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": scratch_database})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPA_")}
    env.update(
        {
            "COPA_ENV": "testing",
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_DATABASE_URL": scratch_database,
            "COPA_SCHEDULER_STANDBY_SECONDS": "0.2",
        }
    )
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _scheduler(env, first_log)
    second = None
    try:
        _wait_for_line(first_log, "purge next at", 60)
        second = _scheduler(env, second_log)
        _wait_for_line(second_log, "standing by", 60)
        assert "next at" not in second_log.read_text()

        os.killpg(first.pid, signal.SIGKILL)  # no goodbye: the lock goes with the process
        first.wait(timeout=10)
        _wait_for_line(second_log, "purge next at", 10)

        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=10) == 0
        assert "scheduler stopped" in second_log.read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
