"""A few routes that exist only in tests, to exercise the shared web plumbing from outside.

They are registered as a plain Flask blueprint on a separate app, so they never appear in the
committed OpenAPI document.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from copa import create_app
from copa.db import db, write
from copa.routing.models import Partner
from copa.web.access import Role, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.schemas import StrictSchema, Text

blp = Blueprint("probe", __name__, url_prefix="/test-probe")


class ThingIn(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=50))
    count = fields.Integer(load_default=1, validate=validate.Range(min=0, max=1000))


class ThingOut(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()


def create_thing(name: str) -> Partner:
    """Stands in for a real create use case: one row, one transaction."""
    with write():
        thing = Partner(code=f"probe-{name}", name=name, kind="council")
        db.session.add(thing)
    return thing


def count_things() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Partner).where(Partner.code.like("probe-%"))
    )


@blp.route("/things")
class Things(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @blp.arguments(ThingIn)
    @blp.response(201, ThingOut)
    def post(self, payload):
        if payload["name"] == "explode":
            raise RuntimeError("secret internal detail: password=hunter2")
        return (
            create_thing(payload["name"]),
            201,
            {"Location": f"/test-probe/things/{payload['name']}"},
        )


@blp.route("/admin-only")
class AdminOnly(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, ThingOut)
    def get(self):
        return {"name": "secret"}


@blp.route("/boom")
class Boom(MethodView):
    @requires("public")
    def get(self):
        raise RuntimeError("secret internal detail: password=hunter2")


def make_probe_app(settings: dict):
    app = create_app(settings)
    app.register_blueprint(blp)
    return app
