"""Hostile input as hypothesis strategies, and the checks every answer to it must pass.

Shared by tests/web/test_hostile_input.py (every operation of openapi.yaml) and
tests/console/test_hostile_forms.py (the console's forms).
"""

from __future__ import annotations

import hashlib
import json
import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from hypothesis import strategies as st

from copa.db import db

# Tables too big to hash on every request and never written by a request: counted only.
COUNTED_ONLY = frozenset({"areas"})


@dataclass(frozen=True)
class Raw:
    """JSON text put into a document as it is (``NaN``, a 5000-digit number)."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object written member by member, so a name may appear twice."""

    members: tuple[tuple[str, object], ...]


def to_json(value: object) -> str:
    """JSON text of a tree that may hold Raw and Pairs; strings escaped (lone surrogates too)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.members) + "}"
    if isinstance(value, dict):
        return to_json(Pairs(tuple(value.items())))
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


def encoded(text: str) -> str:
    """Percent-encoded for a URL; a lone surrogate as the bytes a client would send for it."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


HUGE = "9" * 5000
# The first of these is the one hypothesis tries first: NUL, which PostgreSQL cannot store.
HOSTILE_TEXTS = (
    "\x00",
    "9" * 5000,
    "a\x00b",
    "\x07",
    "\x1b[2J",
    "x\x7f",
    "\x0b\x0c",
    "\u202egnp.exe",
    "abc\u202e\u2066def",
    "\ufeff\ufffe\uffff",
    HUGE,
    "-" + HUGE,
    "1" + "0" * 30,
    "9223372036854775808",
    "-9223372036854775809",
    "2147483648",
    "1e999",
    "NaN",
    "Infinity",
    "-0",
    "0x10",
    "x" * 10_000,
    "é" * 3_000,
    "\U0001d54f" * 1_000,
    "",
    " ",
    "null",
    "[]",
    "../../etc/passwd",
    "%00",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "line\r\nX-Injected: 1",
    "2024-13-45",
    "00000000-0000-0000-0000-000000000000",
)
LONE_SURROGATES = ("\ud800", "a\udfffb", "\udbff")
RAW_NUMBERS = tuple(
    Raw(text)
    for text in (
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "-1e999",
        "1e-999",
        HUGE,
        "-" + HUGE,
        "0." + "1" * 5000,
        "1" + "0" * 64,
    )
)
ODD_VALUES = (2**63, -(2**63) - 1, 2**64, 10**30, 2**31, -1, 0, 1.5, -0.0, 1e308, True, False, None)

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_TEXTS),
    st.sampled_from(LONE_SURROGATES),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=12),
)
json_leaf = st.one_of(
    hostile_text,
    st.sampled_from(RAW_NUMBERS),
    st.sampled_from(ODD_VALUES),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _deep(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


deep_json = st.builds(_deep, st.integers(33, 10_000), st.sampled_from(["array", "object"]))
WHOLE_BODIES = (
    "[]",
    "null",
    "1",
    '"x"',
    "[1, 2]",
    "NaN",
    HUGE,
    '"\\u0000"',
    '{"a":1,"a":2}',
    "{",
    '"' + "x" * 70_000 + '"',  # more than MAX_JSON_BYTES
    "[" * 10_000 + "]" * 10_000,
)


def json_bodies(names: list[str]) -> st.SearchStrategy[bytes]:
    """Hostile JSON bodies for an operation whose body has these member names."""
    name = st.sampled_from(names or ["x"]) | st.text(max_size=6)
    members = st.dictionaries(name, json_value, min_size=1, max_size=4).map(to_json)
    duplicated = st.tuples(name, json_value, json_value).map(
        lambda t: to_json(Pairs(((t[0], t[1]), (t[0], t[2]))))
    )
    nested = st.tuples(name, deep_json).map(lambda t: "{" + json.dumps(t[0]) + ":" + t[1] + "}")
    text = st.one_of(members, duplicated, nested, deep_json, st.sampled_from(WHOLE_BODIES))
    return text.map(lambda body: body.encode("utf-8", "surrogatepass")) | st.just(b"\xff\xfe{}")


def form_fields(names: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    name = st.sampled_from(names) if names else st.text(max_size=6)
    return st.lists(st.tuples(name | st.sampled_from(["\x00", "a\x00"]), hostile_text), max_size=4)


def urlencoded(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in fields).encode("ascii")


# --- what every answer must be ---------------------------------------------------------------


def snapshot(app) -> dict[str, object]:
    """Every table's rows (a hash of them; the biggest static ones by count)."""
    found: dict[str, object] = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in COUNTED_ONLY:
                found[table.name] = db.session.scalar(sa.select(sa.func.count()).select_from(table))
                continue
            rows = sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
            found[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return found


def changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def assert_error_shape(response, path: str) -> None:
    """A refusal in the service's error shape: problem+json whose status is the HTTP status,
    or under /open311/ Open311's error list (XML or JSON) with that status as its code."""
    status = response.status_code
    if path.startswith("/open311/v2/"):
        if response.mimetype == "application/json":
            errors = response.get_json()
            assert isinstance(errors, list) and errors, errors
            assert all(error["code"] == status and error["description"] for error in errors)
        else:
            assert response.mimetype == "text/xml", response.mimetype
            root = ElementTree.fromstring(response.get_data())
            assert root.tag == "errors"
            assert [int(code.text) for code in root.iter("code")], response.get_data()
            assert {int(code.text) for code in root.iter("code")} == {status}
        return
    assert response.mimetype == "application/problem+json", (status, response.mimetype)
    body = response.get_json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]


def errors_logged(records: list[logging.LogRecord]) -> list[str]:
    """Error lines (tracebacks) the requests left in the log."""
    return [record.getMessage() for record in records if record.levelno >= logging.ERROR]
