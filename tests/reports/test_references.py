"""Human references (COPA-26-004213): unique under concurrent submissions, never reused, one
series per year, and on PostgreSQL taken without a lock that queues submissions behind each other.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from copa import create_app
from copa.db import db
from copa.references import ReferenceCounter, next_reference
from copa.reports.models import Report
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, load_reference_data, register_device, scratch_database

THREADS = 8
REPORTS_PER_THREAD = 100
MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}


def test_eight_threads_of_a_hundred_reports_get_eight_hundred_distinct_references(tmp_path):
    with scratch_database(tmp_path, "references") as url:
        app = create_app({**TEST_SETTINGS, "DATABASE_URL": url, "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade()
        load_reference_data(app)
        start = threading.Barrier(THREADS)

        def submit(_: int) -> list[str]:
            client = app.test_client()
            headers = bearer(register_device(client)["access_token"])
            start.wait()  # all eight at once
            references = []
            for n in range(REPORTS_PER_THREAD):
                response = client.post(
                    "/v1/reports",
                    json={
                        "category": "fly_tipping",
                        "description": f"Bin bags dumped behind the shops, number {n}.",
                        "location": MIDDLESBROUGH,
                        "answers": {"size": "small", "waste_type": ["household"]},
                    },
                    headers=headers,
                )
                assert response.status_code == 201, response.get_json()
                references.append(response.get_json()["reference"])
            return references

        with ThreadPoolExecutor(THREADS) as pool:
            answered = [ref for refs in pool.map(submit, range(THREADS)) for ref in refs]
        with app.app_context():
            stored = list(db.session.scalars(sa.select(Report.reference)))
            db.engine.dispose()

    total = THREADS * REPORTS_PER_THREAD
    assert len(answered) == len(set(answered)) == total
    assert sorted(stored) == sorted(answered)
    year = f"{datetime.now(UTC).year % 100:02d}"
    assert all(re.fullmatch(rf"COPA-{year}-\d{{6}}", ref) for ref in answered)
    # Nothing rolled back, so no gaps either: exactly 1..800 on a new database.
    assert sorted(int(ref[-6:]) for ref in answered) == list(range(1, total + 1))


def test_each_year_has_its_own_series_carrying_on_from_numbers_already_given(app):
    with app.app_context():
        # Numbers a year's counter row says were given out (before the sequences, on
        # PostgreSQL) are never given again.
        db.session.add(ReferenceCounter(year=2031, last=41))
        db.session.flush()
        with time_machine.travel(datetime(2031, 6, 1, 9, tzinfo=UTC), tick=False):
            assert [next_reference(), next_reference()] == ["COPA-31-000042", "COPA-31-000043"]
        with time_machine.travel(datetime(2032, 1, 1, 0, 30, tzinfo=UTC), tick=False):
            assert next_reference() == "COPA-32-000001"
        with time_machine.travel(datetime(2031, 12, 31, 23, 30, tzinfo=UTC), tick=False):
            assert next_reference() == "COPA-31-000044"
        db.session.rollback()


def test_a_submission_that_rolls_back_never_lends_its_number_to_a_later_one(tmp_path):
    """PostgreSQL: a reference is taken without waiting for another submission still open, and
    one that rolls back leaves a gap. SQLite (one writer at a time) takes it inside the
    submission's transaction and gets it back on a rollback. Either way no two committed
    submissions ever share a number."""
    with scratch_database(tmp_path, "reference_gaps") as url:
        app = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
        with app.app_context():
            upgrade()
            engine = db.engine
            with Session(engine) as earlier:
                # The year's first reference (on PostgreSQL it creates the year's sequence, and
                # the year's first submissions wait for that one commit).
                assert _number(next_reference(earlier)) == 1
                earlier.commit()
            with Session(engine) as first, Session(engine) as second, Session(engine) as third:
                held = next_reference(first)  # a submission still open
                if engine.dialect.name == "postgresql":
                    # Another submission meanwhile neither waits nor collides (a lock held
                    # until the first commits would fail it after 2 s).
                    second.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                    taken = next_reference(second)
                    second.commit()
                    first.rollback()
                    after = next_reference(third)
                    third.commit()
                    assert [_number(held), _number(taken), _number(after)] == [2, 3, 4]
                else:
                    first.rollback()  # one writer at a time: the number comes back
                    after = next_reference(third)
                    third.commit()
                    assert after == held
            engine.dispose()


def _number(reference: str) -> int:
    return int(reference[-6:])
