"""The count stays honest under concurrent votes: the database allows one counted vote per
resident and quarter, whatever area it names and whatever arrives at the same moment.

These tests commit for real (threads do not share the per-test transaction) and delete what
they wrote at the end.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import import_geojson
from copa.auth.models import Device
from copa.confidence import service
from copa.confidence.models import Vote
from copa.db import db
from copa.metrics.models import ConfidenceRollup

THREADS = 8
VOTES_PER_THREAD = 50
# A made-up authority and ward, so nothing here collides with areas other tests import.
AUTHORITY = "E06999990"
WARD = "E05999990"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-0.02, -0.02], [0.02, -0.02], [0.02, 0.02], [-0.02, 0.02], [-0.02, -0.02]]],
}


@pytest.fixture
def resident_and_ward(app):
    """A device and a ward committed for real; removed, with every vote cast, afterwards."""
    with app.app_context():
        import_geojson(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": WARD, "name": "Concurrency Test Ward"},
                        "geometry": SQUARE,
                    }
                ],
            },
            authority_code=AUTHORITY,
            authority_name="Concurrency Test Authority",
        )
        device = Device(platform="android", app_version="test")
        db.session.add(device)
        db.session.commit()
        device_id = device.id
    try:
        yield device_id
    finally:
        with app.app_context():
            db.session.rollback()
            db.session.execute(sa.delete(Vote).where(Vote.device_id == device_id))
            db.session.execute(sa.delete(Device).where(Device.id == device_id))
            db.session.execute(sa.delete(Ward).where(Ward.code == WARD))
            db.session.execute(sa.delete(LocalAuthority).where(LocalAuthority.code == AUTHORITY))
            db.session.commit()


def votes_of(app, device_id: uuid.UUID) -> list[Vote]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Vote).where(Vote.device_id == device_id)))


@pytest.mark.real_database
def test_eight_threads_voting_at_once_leave_exactly_one_counted_vote(
    app, resident_and_ward, caplog
):
    device_id = resident_and_ward
    caplog.set_level(logging.INFO, logger=service.__name__)
    now = datetime(2025, 11, 5, 12, 0, tzinfo=UTC)  # every vote in 2025/26 Q3
    options = service.OPTION_KEYS
    start = threading.Barrier(THREADS, timeout=30)
    failures: list[BaseException] = []

    def cast_many(worker: int) -> None:
        try:
            with app.app_context():  # each thread its own session and connection
                start.wait()
                for n in range(VOTES_PER_THREAD):
                    option = options[(worker + n) % len(options)]
                    service.cast_vote(device_id, option, area=WARD, now=now)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=cast_many, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads), "a voting thread hung"
    assert failures == []
    votes = votes_of(app, device_id)
    assert len(votes) == THREADS * VOTES_PER_THREAD
    assert sum(v.counted for v in votes) == 1
    assert sum(not v.counted and v.replaced_at == now for v in votes) == 399

    retries = [r for r in caplog.records if "vote clashed" in r.getMessage()]
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        # Transactions that both found nothing to replace really did collide on the unique
        # index, and the retry is what made every one of them count: at its first go, because
        # a retry runs alone for its resident.
        assert retries, "no vote clashed: the test did not exercise the retry"
        assert {r.args[0] for r in retries} == {1}  # the attempt that clashed
    else:
        assert retries == []  # SQLite: BEGIN IMMEDIATE lets one writer in at a time


@pytest.mark.real_database
def test_threads_voting_for_the_ward_and_its_authority_at_once_leave_one_counted_vote(
    app, resident_and_ward
):
    device_id = resident_and_ward
    now = datetime(2025, 11, 5, 12, 0, tzinfo=UTC)
    start = threading.Barrier(THREADS, timeout=30)
    failures: list[BaseException] = []

    def cast_many(worker: int) -> None:
        area = WARD if worker % 2 else AUTHORITY  # half for the ward, half for its authority
        try:
            with app.app_context():
                start.wait()
                for _ in range(10):
                    service.cast_vote(device_id, "neither", area=area, now=now)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=cast_many, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads), "a voting thread hung"
    assert failures == []
    votes = votes_of(app, device_id)
    assert len(votes) == THREADS * 10
    assert sum(v.counted for v in votes) == 1
    # The authority's figure (its own votes and its ward's) counts the resident once.
    with app.app_context():
        counted_in_authority = db.session.scalar(
            sa.select(sa.func.sum(ConfidenceRollup.count)).where(
                ConfidenceRollup.local_authority_code == AUTHORITY,
                ConfidenceRollup.channel == "app",
            )
        )
    assert counted_in_authority == 1


@pytest.mark.real_database
def test_votes_in_two_quarters_both_count_for_the_same_resident_and_area(app, resident_and_ward):
    device_id = resident_and_ward
    with app.app_context():
        q4 = service.cast_vote(
            device_id, "neither", area=WARD, now=datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
        )
        q1 = service.cast_vote(
            device_id, "neither", area=WARD, now=datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
        )

    assert (q4.quarter.label, q1.quarter.label) == ("2025/26 Q4", "2026/27 Q1")
    assert not q1.replaced
    assert sorted(
        (v.fiscal_year, v.fiscal_quarter) for v in votes_of(app, device_id) if v.counted
    ) == [
        (2025, 4),
        (2026, 1),
    ]
