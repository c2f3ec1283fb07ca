"""One visible write path: ``copa.db.write()`` is the only place that commits or rolls back,
and the idempotency layer and the rollups compose with it without hidden savepoints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from copa.db import PartFailed, abandon, db, unit_failed, write
from copa.metrics.models import ReportRollup
from copa.metrics.rollups import write_pending
from copa.reports.models import Report
from copa.routing.models import Partner
from copa.web.problems import Unprocessable
from tests.factories import bearer, load_reference_data, register_device

PACKAGE = Path(__file__).resolve().parents[1] / "copa"
ENDING_CALLS = {"commit", "rollback", "begin_nested", "begin"}
REPORT = {
    "category": "fly_tipping",
    "description": "Mattresses and bin bags dumped behind the shops on Parliament Road.",
    "location": {"lat": 54.5762, "lon": -1.2348},
    "answers": {"size": "small", "waste_type": ["household"]},
}


def partners(*codes: str) -> set[str]:
    return set(db.session.scalars(sa.select(Partner.code).where(Partner.code.in_(codes))))


def test_only_the_transaction_helper_begins_commits_or_rolls_back():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "db.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ENDING_CALLS
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.func.attr}()")
    assert offenders == []


def test_a_joined_part_commits_with_its_outer_transaction_or_not_at_all(app):
    with app.app_context():
        with pytest.raises(RuntimeError, match="outer failed"), write():
            db.session.add(Partner(code="outer-a", name="A", kind="council"))
            with write():  # a service called by a service
                db.session.add(Partner(code="inner-b", name="B", kind="council"))
            raise RuntimeError("outer failed")
        assert partners("outer-a", "inner-b") == set()

        with write():
            db.session.add(Partner(code="outer-a", name="A", kind="council"))
            with write():
                db.session.add(Partner(code="inner-b", name="B", kind="council"))
        assert partners("outer-a", "inner-b") == {"outer-a", "inner-b"}


def test_a_refused_part_whose_caller_carries_on_makes_the_whole_unit_commit_nothing(app):
    with app.app_context():
        with pytest.raises(PartFailed), write():
            db.session.add(Partner(code="before", name="Before", kind="council"))
            try:
                with write():
                    db.session.add(Partner(code="half", name="Half", kind="council"))
                    raise Unprocessable("refused half way")
            except Unprocessable:
                assert unit_failed()  # what the idempotency layer reads: store nothing
        assert partners("before", "half") == set()


def test_a_page_that_abandons_a_refused_change_leaves_nothing_and_can_still_read(app):
    with app.app_context():
        with pytest.raises(PartFailed), write():
            db.session.add(Partner(code="refused", name="Refused", kind="council"))
            db.session.flush()
            abandon()  # the console, before it shows the refusal
            assert partners("refused") == set()  # it reads again, in a clean state
        assert partners("refused") == set()


def test_a_savepoint_part_that_clashes_leaves_its_outer_transaction_usable(app):
    with app.app_context():
        with write():
            db.session.add(Partner(code="taken", name="Taken", kind="council"))
            db.session.flush()
            with pytest.raises(IntegrityError), write(savepoint=True):
                db.session.add(Partner(code="taken", name="Again", kind="council"))
            assert not unit_failed()
            db.session.add(Partner(code="after", name="After", kind="council"))
        assert partners("taken", "after") == {"taken", "after"}


def test_a_commit_made_by_write_includes_the_rollups_of_what_it_wrote(app, client):
    load_reference_data(app)
    resident = bearer(register_device(client)["access_token"])
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.sum(ReportRollup.count))) or 0
    # Without the fallback listener (for commits outside the application), only write()'s own
    # step can count the report.
    event.remove(Session, "before_commit", write_pending)
    try:
        assert client.post("/v1/reports", json=REPORT, headers=resident).status_code == 201
    finally:
        event.listen(Session, "before_commit", write_pending)
    with app.app_context():
        after = db.session.scalar(sa.select(sa.func.sum(ReportRollup.count))) or 0
    assert after == before + 1


@pytest.fixture
def statements(app):
    """Every statement the application sends, with the suite's outer transaction made silent
    (``rollback_only``: a session commit adds no SAVEPOINT of the suite's own)."""
    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement.split(None, 1)[0].upper())

    with app.app_context():
        db.session.remove()
        db.session.configure(join_transaction_mode="rollback_only")
    event.listen(Engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", log)
        with app.app_context():
            db.session.remove()
            db.session.configure(join_transaction_mode="create_savepoint")


def test_a_keyed_report_and_its_stored_answer_need_no_savepoint(app, client, statements):
    load_reference_data(app)
    resident = bearer(register_device(client)["access_token"])
    statements.clear()
    headers = {**resident, "Idempotency-Key": "write-path-1"}

    response = client.post("/v1/reports", json=REPORT, headers=headers)

    assert response.status_code == 201
    assert "SAVEPOINT" not in statements and "RELEASE" not in statements
    again = client.post("/v1/reports", json=REPORT, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["reference"] == response.get_json()["reference"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) >= 1
