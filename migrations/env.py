"""Alembic environment for copa (Flask-Migrate). The schema is made only by these revisions."""

import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    # Keep the application's loggers: Alembic's default would silence them.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def _engine():
    return target_db.engine


config.set_main_option(
    "sqlalchemy.url", _engine().url.render_as_string(hide_password=False).replace("%", "%%")
)


def _render_item(type_, obj, autogen_context):
    """Write our column types (copa.db.UTCDateTime) as the plain SQLAlchemy type they store."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        return autogen_context.opts["render_item"] and f"sa.{obj.impl!r}"
    return False


def _configure_args(dialect_name: str) -> dict:
    args = dict(current_app.extensions["migrate"].configure_args)
    args.setdefault("compare_type", True)
    args.setdefault("render_item", _render_item)
    # SQLite cannot ALTER constraints: batch mode rebuilds the table instead.
    args.setdefault("render_as_batch", dialect_name == "sqlite")
    return args


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_db.metadata,
        literal_binds=True,
        **_configure_args(_engine().dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    engine = _engine()
    args = _configure_args(engine.dialect.name)
    args.setdefault("process_revision_directives", process_revision_directives)
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename): with foreign keys on,
            # dropping the old table would cascade to every row that references it (a
            # report's referrals, a message's delivery attempts). Off for the migration only
            # (the PRAGMA is ignored inside a transaction: set on the driver's connection before
            # one begins).
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(connection=connection, target_metadata=target_db.metadata, **args)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
