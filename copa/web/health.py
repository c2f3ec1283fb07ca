"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import Schema, fields

from copa.db import abandon, db, end_read
from copa.web.access import PUBLIC, requires
from copa.web.blueprint import Blueprint
from copa.web.outage import DatabaseUnreachable

blp = Blueprint("health", __name__, description="Is the service up, and can it reach its database?")


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/healthz")
class Health(MethodView):
    @requires(PUBLIC)
    @blp.response(200, HealthOut)
    def get(self):
        """The process is up (it does not touch the database)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @requires(PUBLIC)
    @blp.response(200, HealthOut)
    def get(self):
        """The database answers; 503 when it does not."""
        try:
            db.session.execute(sa.text("SELECT 1"))
            end_read()
        except sa.exc.SQLAlchemyError as error:
            abandon()
            raise DatabaseUnreachable() from error
        return {"status": "ok"}
