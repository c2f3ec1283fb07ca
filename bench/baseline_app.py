"""The floor of the submission benchmark: Flask + marshmallow + SQLAlchemy Core, no copa code.

One POST endpoint validates a small JSON body (the shape of a report) and inserts one row into a
table of its own, in the same database and behind the same gunicorn settings as copa. Whatever
copa does on top of this (tokens, idempotency, area lookup, references, the ORM) is what the
ratio in ``bench/submit.py`` measures.

    BENCH_DATABASE_URL=sqlite:////tmp/x.db python bench/baseline_app.py   # creates the table
    BENCH_DATABASE_URL=... gunicorn --workers 2 --pythonpath bench baseline_app:app
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

metadata = sa.MetaData()
submission = sa.Table(
    "bench_baseline_submission",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("description", sa.String(4000), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class PointIn(Schema):
    class Meta:
        unknown = RAISE

    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))


class SubmissionIn(Schema):
    class Meta:
        unknown = RAISE

    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    location = fields.Nested(PointIn, required=True)
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)


def make_engine(url: str) -> sa.Engine:
    """The same connection settings copa uses (WAL, synchronous=NORMAL, busy timeout on SQLite)."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, connection_record) -> None:  # noqa: ANN001
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = make_engine(url or os.environ["BENCH_DATABASE_URL"])
    schema = SubmissionIn()

    @app.post("/baseline")
    def submit():
        try:
            payload = schema.load(request.get_json())
        except ValidationError as error:
            return jsonify(errors=error.messages), 422
        row_id = uuid.uuid4()
        with engine.begin() as connection:
            connection.execute(
                submission.insert().values(
                    id=row_id,
                    category=payload["category"],
                    description=payload["description"],
                    lat=payload["location"]["lat"],
                    lon=payload["location"]["lon"],
                    answers=payload["answers"],
                    created_at=datetime.now(UTC),
                )
            )
        return jsonify(id=str(row_id)), 201

    return app


def create_table(url: str | None = None) -> None:
    engine = make_engine(url or os.environ["BENCH_DATABASE_URL"])
    metadata.create_all(engine)
    engine.dispose()


if __name__ == "__main__":
    create_table()
else:
    app = create_app() if "BENCH_DATABASE_URL" in os.environ else None
