"""The flask-smorest Blueprint every feature uses, with the request-body rules of CONTRACTS.md."""

from __future__ import annotations

import flask_smorest
from flask_smorest.arguments import ArgumentsMixin
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

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
        data = super().load_json(req, schema)
        if _has_lone_surrogate(data):
            # JSON may escape half of a UTF-16 pair ("\ud800"); no database can store it.
            raise BadRequest("The body contains text that is not valid Unicode.")
        return data


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _has_body(req) -> bool:  # noqa: ANN001
    return bool(req.content_length) or req.headers.get("Transfer-Encoding") == "chunked"


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


assert issubclass(Blueprint, ArgumentsMixin)
