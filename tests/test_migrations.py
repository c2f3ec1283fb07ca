"""The schema is made only by the migrations: they must agree with the models, have one head,
and go down and up again cleanly (an operator's ``flask db downgrade`` must not strand them)."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from copa import create_app
from copa.db import db
from tests.conftest import TEST_SETTINGS


def scripts(app) -> ScriptDirectory:
    """The revisions ``flask db`` uses for this app."""
    config = Config()
    config.set_main_option("script_location", str(app.extensions["migrate"].directory))
    return ScriptDirectory.from_config(config)


def throwaway_kinds() -> list[str]:
    """SQLite always; PostgreSQL too when the suite runs on it."""
    url = os.environ.get("COPA_TEST_DATABASE_URL", "")
    return ["sqlite", "postgresql"] if url.startswith("postgresql") else ["sqlite"]


def schema_of(engine: sa.Engine) -> dict[str, dict]:
    """What a person (or the ORM) would notice about each table: columns, keys and indexes."""
    inspector = sa.inspect(engine)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (uq["name"], tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(table)
            ),
        }
    return schema


@pytest.fixture(params=throwaway_kinds())
def throwaway_database(request, tmp_path, database):
    """The URL of a new, empty database, dropped afterwards; never the shared test database.

    On PostgreSQL, a new database on the server the suite uses.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    shared = sa.make_url(database)
    name = f"copa_migrations_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(shared, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.SQLAlchemyError as error:
        pytest.skip(f"cannot create a throwaway PostgreSQL database: {error}")
    try:
        yield shared.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture
def fresh_app(throwaway_database):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": throwaway_database})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_migrations_build_exactly_what_the_models_describe(app):
    models = db.metadata
    assert models.tables
    with app.app_context():
        context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
        differences = compare_metadata(context, models)

    assert differences == [], "run `flask db migrate` and review the new revision"


def test_the_migrations_have_a_single_head(app):
    heads = scripts(app).get_heads()

    assert len(heads) == 1, f"several heads {heads}: run `flask db merge heads`"


def test_the_test_database_is_at_the_head_revision(app):
    with app.app_context():
        current = MigrationContext.configure(db.session.connection()).get_current_heads()

    assert set(current) == set(scripts(app).get_heads())


def test_flask_db_downgrade_base_then_upgrade_rebuilds_the_same_schema(fresh_app):
    runner = fresh_app.test_cli_runner()
    with fresh_app.app_context():
        engine = db.engine

    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, (upgraded.output, upgraded.exception)
    built = schema_of(engine)
    assert set(built) == set(db.metadata.tables) | {"alembic_version"}

    down = runner.invoke(args=["db", "downgrade", "base"])

    assert down.exit_code == 0, (down.output, down.exception)
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            leftovers = (
                connection.execute(
                    sa.text(
                        "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                        " WHERE n.nspname = 'public' AND t.typtype = 'e'"
                    )
                )
                .scalars()
                .all()
            )
        assert leftovers == [], "downgrade left enum types behind"

    up = runner.invoke(args=["db", "upgrade"])

    assert up.exit_code == 0, (up.output, up.exception)
    assert schema_of(engine) == built


def test_every_revision_can_be_undone_and_redone_one_step_at_a_time(fresh_app):
    """The stairway: for each revision in order, upgrade to it, downgrade one step, upgrade."""
    revisions = list(reversed(list(scripts(fresh_app).walk_revisions("base", "heads"))))
    with fresh_app.app_context():
        engine = db.engine
        for revision in revisions:
            upgrade(revision=revision.revision)
            reached = schema_of(engine)
            downgrade(revision=revision.down_revision or "base")
            upgrade(revision=revision.revision)
            assert schema_of(engine) == reached, f"revision {revision.revision}"
