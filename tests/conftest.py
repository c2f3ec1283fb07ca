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
    # argon2 at its cheapest: a sign-in checks the password, and the suite signs in thousands
    # of times. Production refuses these (copa/config.py); tests of the cost itself set it.
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_KIB": 64,
    "PASSWORD_HASH_PARALLELISM": 1,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each of schemathesis's per-operation tests its own node id.

    schemathesis names them ``test_x[GET /v1/...]`` but, under pytest 9, leaves every one the
    bare function's node id; pytest-xdist schedules by node id, and with 117 items under one id
    it would run one operation and count one test.
    """
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and item.id.params is None:
            item._id = item.id.with_params(label)  # pytest 9 keeps the id here


def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The suite's database: a SQLite file in this worker's temporary folder, or on PostgreSQL
    (COPA_TEST_DATABASE_URL) that database, or under pytest-xdist one beside it per worker."""
    url = os.environ.get("COPA_TEST_DATABASE_URL")
    if url:
        return worker_database(url, os.environ.get("PYTEST_XDIST_WORKER"))
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'copa-test.db'}"


def worker_database(url: str, worker: str | None) -> str:
    """``url`` itself outside xdist; else ``<its name>_<worker>`` on the same server, created
    when missing (each run then migrates it from empty: ``reset_database``)."""
    if not worker:
        return url
    shared = sa.make_url(url)
    if shared.get_backend_name() == "sqlite":
        return shared.set(database=f"{shared.database}-{worker}").render_as_string(False)
    name = f"{shared.database}_{worker}"
    server = sa.create_engine(shared, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with server.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        server.dispose()
    return shared.set(database=name).render_as_string(hide_password=False)


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
    # The limiter is one object for every app: each create_app (a test's own app, built with
    # COPA_RATELIMIT_ENABLED=false, say) sets its switch. Every test starts with the suite app's.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
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


# --- media stores: the local folders and an S3-compatible bucket (tests/media_stores.py) ----


@pytest.fixture(scope="session")
def moto_s3():
    """moto's S3 server on 127.0.0.1 for the whole session, with dummy AWS credentials and
    no instance-metadata lookups: boto3 reaches nothing but this server."""
    from tests.media_stores import AWS_ENVIRONMENT, moto_server

    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        with moto_server() as endpoint:
            yield endpoint


@pytest.fixture(params=["local", "s3"])
def media_store(request, tmp_path):
    """The test's media store: the local folders, then a fresh bucket on moto's server."""
    from tests.media_stores import make_media_store

    endpoint = request.getfixturevalue("moto_s3") if request.param == "s3" else None
    return make_media_store(request.param, tmp_path / "media", endpoint)


@pytest.fixture
def use_media_store(app, media_store, monkeypatch):
    """The session's app keeps this test's media in ``media_store``."""
    from copa.reports import photos, videos

    for name, value in media_store.settings().items():
        monkeypatch.setitem(app.config, name, value)
    for key in (photos.STORE_EXTENSION, videos.STORE_EXTENSION):
        app.extensions.pop(key, None)
    yield media_store
    for key in (photos.STORE_EXTENSION, videos.STORE_EXTENSION):
        app.extensions.pop(key, None)
