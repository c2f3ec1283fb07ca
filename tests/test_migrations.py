"""The schema is made only by the migrations: they must agree with the models, have one head,
and go down and up again cleanly (an operator's ``flask db downgrade`` must not strand them)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from copa import create_app
from copa.areas.models import LocalAuthority, Ward
from copa.auth.models import Device
from copa.confidence.models import Vote
from copa.db import db
from copa.metrics.models import ConfidenceRollup
from copa.metrics.reconcile import reconcile
from copa.periods import Quarter
from copa.references import ReferenceCounter, next_reference
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


# --- data migrations ----------------------------------------------------------------------

BEFORE_ONE_VOTE_A_QUARTER = "655ce44c5113"  # the rule was one counted vote per area and quarter
MIDDLESBROUGH, MIDDLEHAVEN = "E06000002", "E05001497"


def _old_vote(device: Device | None, area: str, when: datetime, option: str = "neither") -> Vote:
    quarter = Quarter.of(when)
    ward = area if area != MIDDLESBROUGH else None
    return Vote(
        device_id=device.id if device else None,
        option=option,
        value=3,
        area_code=area,
        ward_code=ward,
        local_authority_code=MIDDLESBROUGH,
        fiscal_year=quarter.fiscal_year,
        fiscal_quarter=quarter.quarter,
        cast_at=when,
        counted=True,
    )


def test_upgrade_to_one_vote_a_quarter_keeps_each_resident_s_latest_vote_counted(fresh_app):
    october, november = datetime(2025, 10, 2, 9, tzinfo=UTC), datetime(2025, 11, 3, 9, tzinfo=UTC)
    with fresh_app.app_context():
        upgrade(revision=BEFORE_ONE_VOTE_A_QUARTER)
        # Rows as the old rule left them: one resident counted for the ward and for its
        # authority in 2025/26 Q3 (twice in the authority's figure), once in Q2. The areas go
        # in on the bare connection: a session's change to them would give reference_version,
        # a later table than this revision has, a new token.
        connection = db.session.connection()
        connection.execute(
            sa.insert(LocalAuthority).values(
                code=MIDDLESBROUGH, name="Middlesbrough", updated_at=october
            )
        )
        connection.execute(
            sa.insert(Ward).values(
                code=MIDDLEHAVEN,
                name="Middlehaven",
                local_authority_code=MIDDLESBROUGH,
                geometry="{}",
                updated_at=october,
            )
        )
        twice, once = Device(platform="ios"), Device(platform="android")
        db.session.add_all([twice, once])
        db.session.flush()
        ward_vote = _old_vote(twice, MIDDLEHAVEN, october, "not_very_confident")
        authority_vote = _old_vote(twice, MIDDLESBROUGH, november, "quite_confident")
        db.session.add_all(
            [
                ward_vote,
                authority_vote,
                _old_vote(twice, MIDDLEHAVEN, datetime(2025, 9, 1, 9, tzinfo=UTC)),  # Q2
                _old_vote(once, MIDDLEHAVEN, october),
                # Erased residents cannot be told apart: each stays a resident of its own.
                _old_vote(None, MIDDLEHAVEN, october),
                _old_vote(None, MIDDLESBROUGH, october),
            ]
        )
        db.session.commit()
        ward_vote_id, authority_vote_id = ward_vote.id, authority_vote.id
        assert _app_votes_in(MIDDLESBROUGH, 2025, 3) == 5  # the resident counted twice
        db.session.close()  # the migration must not wait for (or read past) our snapshot

        upgrade()

        counted = db.session.execute(
            sa.select(Vote.id, Vote.device_id, Vote.fiscal_quarter).where(Vote.counted.is_(True))
        ).all()
        assert sorted((q, d == twice.id) for _, d, q in counted if d is not None) == [
            (2, True),
            (3, False),
            (3, True),
        ]
        replaced = db.session.get(Vote, ward_vote_id)
        assert (replaced.counted, replaced.replaced_at) == (False, november)
        assert db.session.get(Vote, authority_vote_id).counted is True
        assert len([row for row in counted if row.device_id is None]) == 2
        assert _app_votes_in(MIDDLESBROUGH, 2025, 3) == 4  # each resident once
        assert reconcile().mismatches == []

        # Going back keeps the votes and the counts as they are, and up again changes nothing.
        db.session.close()
        downgrade(revision=BEFORE_ONE_VOTE_A_QUARTER)
        upgrade()
        assert db.session.scalar(sa.select(sa.func.count()).where(Vote.counted.is_(True))) == 5
        assert reconcile().mismatches == []


def _app_votes_in(authority: str, fiscal_year: int, quarter: int) -> int:
    """The app votes counted in an authority's figure for a quarter (its own and its wards')."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ConfidenceRollup.count), 0)).where(
            ConfidenceRollup.local_authority_code == authority,
            ConfidenceRollup.channel == "app",
            ConfidenceRollup.fiscal_year == fiscal_year,
            ConfidenceRollup.fiscal_quarter == quarter,
        )
    )


BEFORE_REFERENCE_SEQUENCES = "56822e8990bf"


def test_references_carry_on_through_the_sequences_migration_and_back(fresh_app):
    """Numbers given out before the upgrade are never given again after it, nor after a
    downgrade (PostgreSQL moves from the counter rows to a sequence per year and back)."""
    with fresh_app.app_context(), time_machine.travel(datetime(2026, 6, 1, tzinfo=UTC)):
        upgrade(revision=BEFORE_REFERENCE_SEQUENCES)
        db.session.add(ReferenceCounter(year=2026, last=41))
        db.session.commit()
        db.session.close()

        upgrade()
        assert [next_reference(), next_reference()] == ["COPA-26-000042", "COPA-26-000043"]
        db.session.commit()
        db.session.close()

        downgrade(revision=BEFORE_REFERENCE_SEQUENCES)
        assert db.session.get(ReferenceCounter, 2026).last == 43
        db.session.close()

        upgrade()
        assert next_reference() == "COPA-26-000044"
        db.session.commit()
