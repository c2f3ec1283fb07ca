"""The flask-smorest Blueprint every feature uses, with the request-body rules of CONTRACTS.md."""

from __future__ import annotations

import flask_smorest
from flask_smorest.arguments import ArgumentsMixin
from marshmallow import RAISE, missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType

from copa.web.input_guard import decode_json

JSON_TYPES = ("application/json",)


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


class Parser(FlaskParser):
    """webargs' parser, with two rules of ours.

    A body sent as something other than JSON is a 415: webargs would read it as "no body" and
    turn a wrong Content-Type into a misleading list of missing fields. And unknown query
    parameters are refused like unknown body fields, so a typo (``long`` for ``lon``) is named
    instead of silently ignored.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }

    def load_json(self, req, schema):  # noqa: ANN001 - webargs' signature
        if req.mimetype and not is_json_mimetype(req.mimetype) and _has_body(req):
            raise UnsupportedMediaType()
        return super().load_json(req, schema)

    def _raw_load_json(self, req):  # noqa: ANN001 - webargs' signature
        # Our decoder, not json.loads: hostile JSON (too deep, huge numbers, NaN, duplicate
        # names, lone surrogates, control characters) is refused as a problem, not a 500.
        if not is_json_request(req):
            return missing
        return decode_json(req.get_data(cache=True))


def _has_body(req) -> bool:  # noqa: ANN001
    return bool(req.content_length) or req.headers.get("Transfer-Encoding") == "chunked"


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


assert issubclass(Blueprint, ArgumentsMixin)
