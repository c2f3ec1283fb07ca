"""Hostile input never gets a 5xx, always gets the service's error shape, and writes nothing.

One plain example per class of input that used to answer 500 (deep nesting, numbers past
Python's digit limit, NUL and other control characters, well-signed tokens with claims of the
wrong type), then a property-based walk over every operation of the committed openapi.yaml
with hostile paths, query strings and bodies (tests/web/hostile.py).
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copa.auth.models import User
from copa.auth.service import _issue, _user_principal, register_device
from copa.db import db
from copa.extensions import limiter
from copa.feedback.models import ComplaintCase
from copa.reports.models import Report
from tests.factories import bearer, load_reference_data, table_counts, user_with_role
from tests.open311.conftest import make_client
from tests.web.hostile import (
    HUGE,
    assert_error_shape,
    changed,
    encoded,
    errors_logged,
    form_fields,
    hostile_text,
    json_bodies,
    snapshot,
    urlencoded,
)

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
SPEC = yaml.safe_load(OPENAPI.read_text())
METHODS = ("get", "post", "put", "patch", "delete")
STAFF_ROLES = ("reviewer", "resolution", "analyst", "admin", "partner")
DEEP = "[" * 10_000 + "]" * 10_000
EXAMPLES_PER_OPERATION = 6  # x 107 operations: about 640 generated requests per database


@dataclass
class World:
    """What the requests may refer to: real ids, an Open311 api_key, staff users."""

    app: object
    api_key: str
    ids: dict[str, str]
    users: dict[str, uuid.UUID] = field(default_factory=dict)

    def tokens(self, role: str) -> tuple[str, str]:
        """A new sign-in (access, refresh) for the role: a request may log it out or spend it."""
        with self.app.app_context():
            if role in STAFF_ROLES:
                pair = _issue(
                    _user_principal(db.session.get(User, self.users[role]), uuid.uuid4()),
                    new_session=True,
                )
                db.session.commit()
            else:
                pair = register_device("android", "1.0.0")
            return pair.access_token, pair.refresh_token


@pytest.fixture
def world(app, client) -> World:
    load_reference_data(app)
    resident = bearer(client.post("/v1/auth/devices", json={}).get_json()["access_token"])
    report = client.post(
        "/v1/reports",
        json={
            "category": "asb",
            "description": "Youths kicking the bus shelter.",
            "location": {"lat": 54.5762, "lon": -1.2348},
        },
        headers=resident,
    ).get_json()
    feedback = client.post(
        "/v1/feedback",
        json={"kind": "dissatisfaction", "text": "Nobody called me back."},
        headers=resident,
    ).get_json()
    with app.app_context():
        case = db.session.scalar(
            sa.select(ComplaintCase).where(ComplaintCase.feedback_id == uuid.UUID(feedback["id"]))
        )
        ids = {"report_id": report["id"], "feedback_id": feedback["id"], "case_id": str(case.id)}
    found = World(app, make_client(app).api_key, ids)
    for role in STAFF_ROLES:
        found.users[role] = user_with_role(app, role).id
    return found


# --- one example per class of input that used to answer 500 ----------------------------------


def _no_rows_added(app, before: dict[str, int]) -> None:
    assert table_counts(app, Report, User, ComplaintCase) == before


def test_deeply_nested_json_is_a_400_problem_signed_in_or_not(app, client, world, caplog):
    access, _ = world.tokens("resident")
    before = table_counts(app, Report, User, ComplaintCase)
    answers = [
        client.post("/v1/auth/devices", data=DEEP, content_type="application/json"),
        client.post(
            "/v1/reports",
            data=DEEP,
            content_type="application/json",
            headers={**bearer(access), "Idempotency-Key": "deep-1"},
        ),
        client.post(
            "/v1/reports",
            data='{"description": ' + DEEP + "}",
            content_type="application/json",
            headers=bearer(access),
        ),
    ]
    for response in answers:
        assert response.status_code == 400
        body = response.get_json()
        assert body["type"].endswith("/invalid-json")
        assert "nested more than 32 levels" in body["detail"]
    _no_rows_added(app, before)
    assert errors_logged(caplog.records) == []


def test_numbers_past_the_digit_limit_are_refused_naming_the_field(app, client, world, caplog):
    access, _ = world.tokens("resident")
    admin, _ = world.tokens("admin")
    before = table_counts(app, Report, User, ComplaintCase)

    in_body = client.post(
        "/v1/reports",
        data='{"category": "asb", "location": {"lat": ' + HUGE + ', "lon": -1.2}}',
        content_type="application/json",
        headers=bearer(access),
    )
    assert in_body.status_code == 422
    assert in_body.get_json()["errors"] == {
        "location.lat": ["A number may have at most 64 digits."]
    }

    in_query = client.get(f"/v1/staff/queue?page={HUGE}", headers=bearer(admin))
    assert in_query.status_code == 422
    assert "page" in in_query.get_json()["errors"]

    in_form = client.post(
        "/open311/v2/requests.json",
        data={"api_key": world.api_key, "service_code": "asb", "lat": HUGE, "long": "-1.2"},
    )
    assert in_form.status_code == 400
    assert {error["code"] for error in in_form.get_json()} == {400}
    assert any(error["description"].startswith("lat: ") for error in in_form.get_json())
    _no_rows_added(app, before)
    assert errors_logged(caplog.records) == []


@pytest.mark.parametrize(
    "url,part",
    [
        ("/open311/v2/requests/COPA%00.json", "path"),
        ("/v1/categories/%00", "path"),
        ("/v1/areas/lookup?lat=54.5%00&lon=-1.2", "lat"),
        ("/v1/categories?x%00=1", "xU+0000"),
    ],
)
def test_nul_in_a_path_or_query_string_is_a_400_naming_the_part(app, client, caplog, url, part):
    response = client.get(url)
    assert response.status_code == 400
    if url.startswith("/open311/"):
        assert response.get_json() == [
            {
                "code": 400,
                "description": "path: Contains a control character (U+0000), which is not allowed.",
            }
        ]
    else:
        body = response.get_json()
        assert body["type"].endswith("/invalid-characters")
        assert list(body["errors"]) == [part]
    assert errors_logged(caplog.records) == []


def test_nul_in_form_fields_and_json_text_is_refused_and_nothing_saved(app, client, world, caplog):
    access, _ = world.tokens("resident")
    before = table_counts(app, Report, User, ComplaintCase)
    open311 = client.post(
        "/open311/v2/requests.xml",
        data={
            "api_key": world.api_key,
            "service_code": "asb",
            "lat": "54.5762",
            "long": "-1.2348",
            "description": "Broken\x00glass",
        },
    )
    assert open311.status_code == 400
    assert b"<code>400</code>" in open311.get_data()
    assert b"description: Contains a control character (U+0000)" in open311.get_data()

    report = client.post(
        "/v1/reports",
        json={
            "category": "asb",
            "description": "Broken\x00glass",
            "location": {"lat": 54.5762, "lon": -1.2348},
        },
        headers=bearer(access),
    )
    assert report.status_code == 422
    assert list(report.get_json()["errors"]) == ["description"]
    _no_rows_added(app, before)
    assert errors_logged(caplog.records) == []


def _signed(app, claims: dict) -> str:
    now = int(time.time())
    base = {
        "iss": app.config["JWT_ISSUER"],
        "aud": app.config["JWT_AUDIENCE"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "type": "access",
        "fresh": False,
    }
    payload = {k: v for k, v in {**base, **claims}.items() if v is not _DROP}
    return jwt.encode(payload, app.config["JWT_SECRET_KEY"], algorithm="HS256")


_DROP = object()
WRONG_CLAIMS = [
    {"sub": 12345},
    {"sub": ["a", "b"]},
    {"sub": "not-a-uuid"},
    {"sid": {"a": 1}},
    {"sid": 7},
    {"kind": None},
    {"kind": ["device"]},
    {"roles": "admin"},
    {"exp": "tomorrow"},
    {"exp": [1]},
    {"exp": HUGE},
    {"iat": {"x": 1}},
    {"jti": 5},
    {"type": ["refresh"]},
    {"fresh": "yes"},
    {"pid": []},
]


@pytest.mark.parametrize("wrong", WRONG_CLAIMS, ids=lambda claims: repr(claims)[:40])
def test_a_signed_token_with_a_claim_of_the_wrong_type_is_a_401(app, client, world, wrong, caplog):
    access, _ = world.tokens("resident")
    good = jwt.decode(access, options={"verify_signature": False})
    for method, url, kind in (
        ("GET", "/v1/me", "access"),
        ("POST", "/v1/auth/refresh", "refresh"),
        ("POST", "/v1/reports", "access"),
    ):
        claims = {"sub": good["sub"], "sid": good["sid"], "kind": "device", "type": kind}
        sent = _signed(app, {**claims, **wrong})
        response = client.open(url, method=method, headers=bearer(sent), json={})
        assert response.status_code == 401, (url, response.get_json())
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert errors_logged(caplog.records) == []


# --- every operation of openapi.yaml, with hostile input -------------------------------------


def _operations() -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, operations in SPEC["paths"].items()
        for method in METHODS
        if method in operations
    ]


def _schema(node: dict) -> dict:
    while "$ref" in node:
        node = SPEC["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


@dataclass
class Hostile:
    url: str
    method: str
    headers: dict[str, str]
    role: str | None
    content_type: str | None = None
    body: bytes | None = None
    multipart: dict | None = None


@st.composite
def hostile_requests(draw, path: str, method: str, world: World) -> Hostile:
    operation = SPEC["paths"][path][method]
    parameters = operation.get("parameters", []) + SPEC["paths"][path].get("parameters", [])
    url = path
    for parameter in (p for p in parameters if p["in"] == "path"):
        name = parameter["name"]
        if name == "fmt":
            value = draw(st.sampled_from(["json", "xml"]) | hostile_text)
        else:
            known = [world.ids[name]] if name in world.ids else []
            # Hostile first: the first case of every operation has NUL in each of its ids.
            value = draw(hostile_text | st.sampled_from(known or ["x"]) | st.uuids().map(str))
        url = url.replace("{" + name + "}", encoded(value))
    names = [p["name"] for p in parameters if p["in"] == "query"]
    query = draw(form_fields(names))
    roles = operation.get("x-roles") or []
    signed = bool(roles) and draw(st.sampled_from([True, True, True, False]))
    role = roles[0] if signed else None
    headers: dict[str, str] = {}
    idempotent = any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in parameters)
    if idempotent and draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.uuids()).hex
    content = operation.get("requestBody", {}).get("content", {})
    hostile = Hostile(url, method.upper(), headers, role)
    open311_key = path.startswith("/open311/v2/") and draw(st.booleans())
    if "application/json" in content:
        properties = list(_schema(content["application/json"]["schema"]).get("properties", {}))
        hostile.content_type = draw(
            st.sampled_from(["application/json", "application/json", "text/plain"])
        )
        hostile.body = draw(json_bodies(properties))
    elif "application/x-www-form-urlencoded" in content:
        properties = list(
            _schema(content["application/x-www-form-urlencoded"]["schema"]).get("properties", {})
        )
        fields = draw(form_fields([*properties, "attribute[x]"]))
        if open311_key:
            fields.append(("api_key", world.api_key))
            open311_key = False
        hostile.content_type = "application/x-www-form-urlencoded"
        hostile.body = urlencoded(fields)
    elif "multipart/form-data" in content:
        if "text/csv" in content and draw(st.booleans()):
            rows = draw(st.lists(st.lists(hostile_text, min_size=1, max_size=4), max_size=5))
            text = "\n".join(",".join(row) for row in rows)
            hostile.content_type = "text/csv"
            hostile.body = text.encode("utf-8", "surrogatepass")
        else:
            properties = list(
                _schema(content["multipart/form-data"]["schema"]).get("properties", {})
            )
            fields = draw(form_fields(properties))
            # A browser cannot send a lone surrogate in a form: it sends what it encodes.
            data = {
                k.encode("utf-8", "replace").decode(): v.encode("utf-8", "replace").decode()
                for k, v in fields
            }
            name = draw(hostile_text).encode("utf-8", "replace").decode()
            data[properties[0] if properties else "file"] = (io.BytesIO(b"GIF89a not really"), name)
            hostile.multipart = data
    if open311_key:
        query.append(("api_key", world.api_key))
    if query:
        hostile.url += "?" + urlencoded(query).decode()
    return hostile


# Answers that write on purpose although they refuse: a refresh token spent twice revokes its
# whole sign-in (CONTRACTS.md), and says so with a 401.
WRITES_WHEN_REFUSED = {("/v1/auth/refresh", "post")}


def test_hostile_requests_get_no_5xx_a_clear_refusal_and_write_nothing(app, client, world, caplog):
    """Every operation of openapi.yaml in one test, so the reference data is loaded once."""
    failures: dict[str, str] = {}
    sent: list[str] = []
    operations = _operations()
    for path, method in operations:
        try:
            _hostile_walk(app, client, world, caplog, path, method, sent)
        except Exception as failure:  # noqa: BLE001 - every operation's failure, not the first
            failures[f"{method.upper()} {path}"] = f"{type(failure).__name__}: {failure}"[:600]
    print(f"{len(sent)} hostile requests over {len(operations)} operations")
    assert failures == {}
    assert len(operations) > 100 and set(sent) == {f"{m} {p}" for p, m in operations}


def _hostile_walk(app, client, world: World, caplog, path: str, method: str, sent: list) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,  # the same cases on every run and every machine
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_requests(path, method, world))
    def send(hostile: Hostile) -> None:
        with app.app_context():
            limiter.reset()  # past the rate limits, to the code that reads the input
        headers = dict(hostile.headers)
        if hostile.role:
            access, refresh = world.tokens(hostile.role)
            headers.update(bearer(refresh if hostile.role == "refresh-token" else access))
        before = snapshot(app)
        caplog.clear()
        if hostile.multipart is not None:
            response = client.open(
                hostile.url,
                method=hostile.method,
                headers=headers,
                data=hostile.multipart,
                content_type="multipart/form-data",
            )
        else:
            response = client.open(
                hostile.url,
                method=hostile.method,
                headers=headers,
                data=hostile.body,
                content_type=hostile.content_type,
            )
        sent.append(f"{method} {path}")
        status = response.status_code
        where = f"{hostile.method} {hostile.url[:200]!r} body={(hostile.body or b'')[:120]!r}"
        assert status < 500, f"{status} for {where}: {response.get_data()[:300]!r}"
        assert errors_logged(caplog.records) == [], where
        if status >= 400:
            assert_error_shape(response, path)
            if (path, method) not in WRITES_WHEN_REFUSED:
                assert changed(before, snapshot(app)) == [], f"{status} wrote rows: {where}"

    send()
