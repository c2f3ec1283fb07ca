"""The flask-smorest Blueprint every feature uses, with the request-body rules of CONTRACTS.md."""

from __future__ import annotations

import flask_smorest
from flask_smorest.arguments import ArgumentsMixin
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import UnsupportedMediaType

JSON_TYPES = ("application/json",)


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


class Parser(FlaskParser):
    """webargs' parser, except a body sent as something other than JSON is a 415.

    webargs reads a non-JSON body as "no body", which would turn a client's wrong
    Content-Type into a misleading list of missing fields.
    """

    def load_json(self, req, schema):  # noqa: ANN001 - webargs' signature
        if req.mimetype and not is_json_mimetype(req.mimetype) and _has_body(req):
            raise UnsupportedMediaType()
        return super().load_json(req, schema)


def _has_body(req) -> bool:  # noqa: ANN001
    return bool(req.content_length) or req.headers.get("Transfer-Encoding") == "chunked"


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


assert issubclass(Blueprint, ArgumentsMixin)
