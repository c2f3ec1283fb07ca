"""The one fixture the suite is built on: ``app``, on a migrated database.

Every test runs inside a transaction that is rolled back afterwards (CONTRACTS.md: the session
joins an outer transaction in ``create_savepoint`` mode, so the application's own commits land
in savepoints). Set ``COPA_TEST_DATABASE_URL`` to run the same suite on PostgreSQL.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from copa import create_app
from copa.db import db
from copa.extensions import limiter
from copa.metrics.reconcile import repair

TEST_SETTINGS = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
    "JWT_SECRET_KEY": "test-jwt-key-not-for-production-0123456789abcdef",
    "RATELIMIT_STORAGE_URI": "memory://",
    "DEMO_PASSWORD": "demo-password-for-tests",
    "LOG_LEVEL": "WARNING",
    "AREAS_RECHECK_SECONDS": 0,  # each test rolls its areas back: never trust a cached index
}


def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("COPA_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'copa-test.db'}"


def reset_database() -> None:
    """Start from an empty database so the migrations build the whole schema."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    else:
        existing = sa.MetaData()
        existing.reflect(bind=engine)
        with engine.begin() as conn:
            for table in reversed(existing.sorted_tables):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}"'))


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database for the whole run; yields its URL."""
    url = database_url(tmp_path_factory)
    migrator = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
    with migrator.app_context():
        reset_database()
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def app(database: str):
    return create_app({**TEST_SETTINGS, "DATABASE_URL": database})


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replaces pytest-flask's: each test request gets its own app context, as in production."""
    yield


@pytest.fixture(autouse=True)
def _isolated(request: pytest.FixtureRequest, app):
    """Roll back whatever the test wrote; reset rate-limit counters."""
    with app.app_context():
        limiter.reset()
    if request.node.get_closest_marker("real_database"):
        yield  # the test commits for real (other processes or threads must see its rows)
        # Its cleanup deletes its rows in bulk, which the rollups' listener cannot see:
        # count the metrics again from what is left (the fixtures' teardowns ran before this).
        with app.app_context():
            repair()
        return
    with app.app_context():
        engine = db.engines[None]
        connection = engine.connect()
        outer = connection.begin()
        db.engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
            outer.rollback()
            connection.close()
            db.engines[None] = engine
