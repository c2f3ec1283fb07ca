"""What the service refuses at the door, whatever the route, before any view or schema sees it.

Hostile input that would otherwise crash deep inside a library is refused where it enters,
as a problem naming the part at fault, and nothing is written:

* request JSON is decoded by ``decode_json``: nesting deeper than ``MAX_JSON_DEPTH``, numbers
  longer than ``MAX_NUMBER_DIGITS`` or beyond a float's range, the ``NaN``/``Infinity``
  literals, duplicate member names, lone surrogates and control characters are refused (the
  standard library would raise RecursionError or ValueError, or hand the database text it
  cannot store);
* control characters (NUL above all: PostgreSQL cannot store it) in the path, the query string
  and form fields are refused by ``refuse_control_characters``, run before every request.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request

from copa.settings import settings
from copa.web.problems import Problem, Unprocessable, problem_type

# C0 controls and DEL, except tab, line feed and carriage return (text fields may hold lines).
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A path or a query parameter's name never holds a line: every C0 control and DEL.
_CONTROL_IN_NAME = re.compile("[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
BODY = "_body"  # the errors key of the body as a whole (as copa.web.problems names it)


class InvalidJson(Problem):
    """The body is not JSON this service reads (RFC 8259, I-JSON: RFC 7493)."""

    status = 400
    title = "Bad Request"
    type = problem_type("invalid-json")


class InvalidCharacters(Problem):
    status = 400
    title = "Bad Request"
    type = problem_type("invalid-characters")


# --- JSON bodies ------------------------------------------------------------------------------


class _Refused:
    """Left in the decoded document in place of a value that cannot be taken; reported with
    its place once the whole document is decoded."""

    __slots__ = ("message", "syntax")

    def __init__(self, message: str, *, syntax: bool) -> None:
        self.message = message
        self.syntax = syntax  # not JSON at all (400), rather than a value out of range (422)


class _Members(dict):
    """An object whose text repeats a member name; the repeated names are reported."""

    duplicates: list[str]


def decode_json(data: bytes | str) -> Any:
    """The JSON document of a request body, or a problem naming what is wrong and where.

    Text that is not JSON raises ``json.JSONDecodeError`` as ``json.loads`` does (webargs
    answers it with its own 400, an empty body counting as no body).
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(
                f"Bytes decoding error: {error.reason}", doc=str(error.object), pos=error.start
            ) from error
    else:
        text = data
    digits = settings().max_number_digits
    decoder = json.JSONDecoder(
        parse_int=lambda literal: _integer(literal, digits),
        parse_float=lambda literal: _float(literal, digits),
        parse_constant=lambda literal: _Refused(f"{literal} is not a JSON number.", syntax=True),
        object_pairs_hook=_members,
    )
    try:
        document = decoder.decode(text)
    except RecursionError:
        raise _nested_too_deeply(BODY) from None
    _check(document, settings().max_json_depth)
    return document


def _integer(literal: str, digits: int) -> int | _Refused:
    if len(literal.lstrip("-")) > digits:
        return _Refused(f"A number may have at most {digits} digits.", syntax=False)
    return int(literal)


def _float(literal: str, digits: int) -> float | _Refused:
    if sum(ch.isdigit() for ch in literal) > digits:
        return _Refused(f"A number may have at most {digits} digits.", syntax=False)
    value = float(literal)
    if not math.isfinite(value):
        return _Refused("The number is too large.", syntax=False)
    return value


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) == len(pairs):
        return members
    seen: set[str] = set()
    repeated = _Members(members)
    repeated.duplicates = []
    for name, _ in pairs:
        if name in seen and name not in repeated.duplicates:
            repeated.duplicates.append(name)
        seen.add(name)
    return repeated


def _check(document: Any, max_depth: int) -> None:
    """Walk the decoded document (without recursion: its depth is the caller's to choose) and
    refuse it with every fault found, each under its place (``field.sub.0``)."""
    syntax: dict[str, list[str]] = {}
    values: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        here = path or BODY
        if isinstance(node, dict | list) and depth >= max_depth:
            raise _nested_too_deeply(here, max_depth)
        if isinstance(node, _Refused):
            (syntax if node.syntax else values).setdefault(here, []).append(node.message)
        elif isinstance(node, str):
            _check_text(node, here, syntax, values)
        elif isinstance(node, dict):
            for name in getattr(node, "duplicates", ()):
                syntax.setdefault(_join(path, name), []).append(
                    "The member name appears more than once."
                )
            for name, value in node.items():
                _check_text(name, _join(path, name), syntax, values)
                stack.append((value, _join(path, name), depth + 1))
        elif isinstance(node, list):
            stack.extend(
                (item, _join(path, str(index)), depth + 1) for index, item in enumerate(node)
            )
    if syntax:
        said = "; ".join(
            f"{path}: {' '.join(messages)}" for path, messages in sorted(syntax.items())
        )
        raise InvalidJson(
            f"The request body is not valid JSON. {said}", errors={**values, **syntax}
        )
    if values:
        raise Unprocessable(
            "The request has invalid fields: " + ", ".join(sorted(values)) + ".", errors=values
        )


def _check_text(
    text: str, path: str, syntax: dict[str, list[str]], values: dict[str, list[str]]
) -> None:
    if _SURROGATE.search(text):
        # JSON may escape half of a UTF-16 pair ("\ud800"); no database can store it.
        syntax.setdefault(path, []).append("The text is not valid Unicode.")
    elif found := _CONTROL_IN_TEXT.search(text):
        values.setdefault(path, []).append(_control_message(found.group()))


def _join(path: str, name: str) -> str:
    name = _printable(name)
    return f"{path}.{name}" if path else name


def _nested_too_deeply(path: str, max_depth: int | None = None) -> InvalidJson:
    limit = max_depth or settings().max_json_depth
    return InvalidJson(
        f"The request body is nested more than {limit} levels deep.",
        errors={path: [f"Nested more than {limit} levels deep."]},
    )


# --- the path, the query string and form fields -------------------------------------------


def refuse_control_characters() -> None:
    """Refuse a request whose path, query string or form fields hold a control character."""
    if found := _CONTROL_IN_NAME.search(request.path):
        raise InvalidCharacters(
            f"The URL path contains a control character ({_codepoint(found.group())}).",
            errors={"path": [_control_message(found.group())]},
        )
    errors = _fields(request.args.items(multi=True))
    if errors:
        raise InvalidCharacters(
            "The query string contains a control character: " + ", ".join(sorted(errors)) + ".",
            errors=errors,
        )
    if request.mimetype in _FORMS:
        errors = _fields(request.form.items(multi=True))
        for name, upload in request.files.items(multi=True):
            errors.update(_fields([(name, upload.filename or "")], _CONTROL_IN_NAME))
        if errors:
            raise InvalidCharacters(
                "A form field contains a control character: " + ", ".join(sorted(errors)) + ".",
                errors=errors,
            )


def _fields(
    pairs: Iterable[tuple[str, str]], in_value: re.Pattern[str] = _CONTROL_IN_TEXT
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, value in pairs:
        # str(): a part Werkzeug could not decode comes with no value (None).
        name, value = str(name or ""), str(value or "")
        found = _CONTROL_IN_NAME.search(name) or in_value.search(value)
        if found:
            errors.setdefault(_printable(name) or "(unnamed)", []).append(
                _control_message(found.group())
            )
    return errors


def _control_message(character: str) -> str:
    return f"Contains a control character ({_codepoint(character)}), which is not allowed."


def _codepoint(character: str) -> str:
    return f"U+{ord(character):04X}"


def _printable(name: str) -> str:
    """A name as it can be shown back: control characters and lone surrogates as U+XXXX."""
    return re.sub("[\x00-\x1f\x7f\ud800-\udfff]", lambda match: _codepoint(match.group()), name)


def init_input_guard(app: Flask) -> None:
    """Check every request's path, query string and form fields before its view runs."""
    app.before_request(refuse_control_characters)
