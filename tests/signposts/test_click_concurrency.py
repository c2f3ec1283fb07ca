"""ACCEPTANCE: taps arriving at once from many threads, retries racing their originals, are each
counted exactly once, in the clicks and in the rollup, and reconcile finds nothing amiss.

1,000 distinct taps over 20 threads (50 each), and 100 of them (every tenth) sent a second time
by the next thread at the same moment: 1,100 requests for 1,000 event ids. The test goes through
the HTTP layer (a test client per thread), commits for real, and deletes what it wrote at the end.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.metrics.reconcile import reconcile
from copa.signposts.models import Signpost, SignpostClick
from tests.signposts.support import rollup_total

THREADS = 20
TAPS_PER_THREAD = 50
RETRY_EVERY = 10  # every tenth tap is sent again, by another thread


@pytest.fixture
def signpost(app, monkeypatch):
    """A signpost of the test's own, committed for real; removed with its clicks afterwards."""
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS", "100000/minute")
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_CLICKS_PER_ADDRESS", "100000/minute")
    with app.app_context():
        made = Signpost(
            id=uuid.uuid4(),
            code=f"concurrency-{uuid.uuid4().hex[:12]}",
            title="Concurrency test",
            description="",
            organisation="Tests",
            url="https://www.example.org/concurrency",
            topic="other",
            destination_kind="other",
            local_authority_code=None,
            category_codes=[],
            feedback_kinds=[],
            translations={},
            active=True,
            sort_order=0,
        )
        db.session.add(made)
        db.session.commit()
        signpost_id = made.id
    try:
        yield str(signpost_id)
    finally:
        with app.app_context():
            db.session.rollback()
            db.session.execute(
                sa.delete(SignpostClick).where(SignpostClick.signpost_id == signpost_id)
            )
            db.session.execute(sa.delete(Signpost).where(Signpost.id == signpost_id))
            db.session.commit()
        # conftest's real_database teardown rewrites the rollups from what is left.


@pytest.mark.real_database
def test_a_thousand_taps_with_racing_retries_are_each_counted_once(app, signpost):
    events = [[uuid.uuid4() for _ in range(TAPS_PER_THREAD)] for _ in range(THREADS)]
    sends: list[list[uuid.UUID]] = []
    for worker in range(THREADS):
        previous = events[(worker - 1) % THREADS]
        # Its own taps, and the previous thread's every tenth one at the same position, so the
        # retry and the original are in flight at about the same moment.
        mine: list[uuid.UUID] = []
        for n, event in enumerate(events[worker]):
            mine.append(event)
            if n % RETRY_EVERY == 0:
                mine.append(previous[n])
        sends.append(mine)
    distinct = {event for mine in events for event in mine}
    assert len(distinct) == THREADS * TAPS_PER_THREAD == 1000
    assert sum(len(mine) for mine in sends) == 1100

    start = threading.Barrier(THREADS, timeout=30)
    answers: list[tuple[str, int, bool]] = []
    failures: list[BaseException] = []

    def tap_all(mine: list[uuid.UUID]) -> None:
        try:
            client = app.test_client()
            start.wait()
            for event in mine:
                response = client.post(
                    f"/v1/signposts/{signpost}/clicks", json={"event_id": str(event)}
                )
                body = response.get_json()
                answers.append((str(event), response.status_code, body.get("counted")))
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=tap_all, args=(mine,)) for mine in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert not any(thread.is_alive() for thread in threads), "a tapping thread hung"
    assert failures == []
    assert len(answers) == 1100
    assert Counter(status for _, status, _ in answers) == {201: 1000, 200: 100}
    counted = Counter(event for event, status, is_counted in answers if is_counted)
    assert status_agrees(answers)
    assert set(counted) == {str(event) for event in distinct}
    assert set(counted.values()) == {1}  # each event id answered "counted" exactly once

    assert rollup_total(app, signpost) == 1000
    with app.app_context():
        rows = db.session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(SignpostClick.event_id))).where(
                SignpostClick.signpost_id == uuid.UUID(signpost)
            )
        ).one()
        assert tuple(rows) == (1000, 1000)
        mismatches = [m for m in reconcile().mismatches if m.table == "rollup_click_through"]
    assert mismatches == []


def status_agrees(answers: list[tuple[str, int, bool]]) -> bool:
    """201 always says counted, 200 never does."""
    return all((status == 201) == bool(is_counted) for _, status, is_counted in answers)
