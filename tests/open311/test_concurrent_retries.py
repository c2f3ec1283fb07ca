"""A client that sends the same POST several times at once (a retry racing the original) gets one
report: the unique (client, fingerprint) index decides, on SQLite and on PostgreSQL.

The test commits for real (threads do not share the per-test transaction) and deletes what it
wrote at the end.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from copa.catalog.models import Category
from copa.db import db
from copa.open311 import api_clients, submit
from copa.open311.models import Open311Client, Open311Request
from copa.reports.models import Report

THREADS = 6
CODE = "open311_race_test"


@pytest.fixture
def client_and_category(app):
    with app.app_context():
        category = Category(
            code=CODE,
            name="Race test",
            group="opcc",
            default_destination="opcc",
            location_required=False,
        )
        db.session.add(category)
        db.session.commit()
        saved = api_clients.create_client(None, {"name": "Racer", "jurisdiction_id": "race.test"})
        client_id, api_key = saved.id, saved.api_key
    try:
        yield client_id, api_key
    finally:
        with app.app_context():
            db.session.rollback()
            reports = sa.select(Open311Request.report_id).where(
                Open311Request.client_id == client_id
            )
            report_ids = list(db.session.scalars(reports))
            db.session.execute(
                sa.delete(Open311Request).where(Open311Request.client_id == client_id)
            )
            db.session.execute(sa.delete(Report).where(Report.id.in_(report_ids)))
            db.session.execute(sa.delete(Open311Client).where(Open311Client.id == client_id))
            db.session.execute(sa.delete(Category).where(Category.code == CODE))
            db.session.commit()


@pytest.mark.real_database
def test_the_same_post_at_the_same_moment_makes_one_report(app, client_and_category):
    client_id, _ = client_and_category
    form = MultiDict(
        {"service_code": CODE, "description": f"Who polices the polls? {uuid.uuid4()}"}
    )
    start = threading.Barrier(THREADS, timeout=30)
    answers: list[tuple[str, bool]] = []
    failures: list[BaseException] = []

    def post() -> None:
        try:
            with app.app_context():  # each thread its own session and connection
                client = db.session.get(Open311Client, client_id)
                start.wait()
                answer, created = submit.submit_request(client, form, MultiDict())
                answers.append((answer[0]["service_request_id"], created))
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads), "a posting thread hung"
    assert failures == []
    assert len({reference for reference, _ in answers}) == 1, answers
    assert sum(created for _, created in answers) == 1
    with app.app_context():
        made = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Open311Request)
            .where(Open311Request.client_id == client_id)
        )
    assert made == 1
