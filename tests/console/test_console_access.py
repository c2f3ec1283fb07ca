"""The console's authorization matrix: every console route x every kind of caller.

Console pages take a cookie session, never a bearer token. So: nobody, a resident (with its
bearer token) and a partner user (whose sign-in the console refuses; it sends its bearer token)
are sent to sign in; a staff member whose role the page does not allow gets 403; the others get
past authorization, and nobody gets a 5xx. The roles are the API's for the same work. A console
route missing from CONSOLE_MATRIX fails ``test_every_console_route_is_in_the_matrix``.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from PIL import Image

from copa.db import db
from copa.feedback.models import ComplaintCase
from copa.open311 import api_clients
from copa.outbox.models import MessageState, OutboxMessage
from copa.outbox.signing import new_secret
from copa.reports import photos, videos
from copa.routing.models import Channel, RoutingRule
from tests.factories import (
    PASSWORD,
    bearer,
    load_reference_data,
    register_device,
    signed_in,
    user_with_role,
)
from tests.outbox.support import make_partner, make_referrals

STAFF = ("reviewer", "resolution", "analyst", "admin")
PRINCIPALS = ("anonymous", "resident", "partner", *STAFF)
PUBLIC = frozenset({"public"})
ANY_STAFF = frozenset(STAFF)
QUEUE = frozenset({"reviewer", "resolution", "admin"})
REVIEW = frozenset({"reviewer", "admin"})
COMPLAINTS = frozenset({"resolution", "admin"})
TALLIES = frozenset({"reviewer", "analyst", "admin"})
METRICS = frozenset({"analyst", "admin"})
ADMIN = frozenset({"admin"})

# (method, rule) -> who may; and the form a POST sends (invalid is fine: past authorization).
CONSOLE_MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/console/static/<filename>"): PUBLIC,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): ANY_STAFF,
    ("GET", "/console/"): ANY_STAFF,
    ("GET", "/console/queue"): QUEUE,
    ("GET", "/console/reports/<report_id>"): REVIEW,
    ("POST", "/console/reports/<report_id>/transitions"): REVIEW,
    ("POST", "/console/reports/<report_id>/notes"): REVIEW,
    ("POST", "/console/reports/<report_id>/assignment"): REVIEW,
    ("POST", "/console/reports/<report_id>/redactions"): REVIEW,
    ("POST", "/console/reports/<report_id>/messages"): REVIEW,
    ("POST", "/console/reports/<report_id>/messages/<resident_message_id>/pass-on"): REVIEW,
    ("GET", "/console/reports/<report_id>/photos/<photo_id>"): REVIEW,
    ("GET", "/console/reports/<report_id>/videos/<video_id>"): REVIEW,
    ("GET", "/console/reports/<report_id>/videos/<video_id>/poster"): REVIEW,
    ("GET", "/console/complaints"): COMPLAINTS,
    ("GET", "/console/complaints/<case_id>"): COMPLAINTS,
    **{
        ("POST", f"/console/complaints/<case_id>/{action}"): COMPLAINTS
        for action in (
            "first-contact",
            "escalation",
            "resolution",
            "closure",
            "actions",
            "allegations",
            "assignment",
            "notes",
            "messages",
        )
    },
    ("GET", "/console/feedback/<feedback_id>"): QUEUE,
    ("POST", "/console/feedback/<feedback_id>/pass-on"): QUEUE,
    ("POST", "/console/feedback/<feedback_id>/answer"): QUEUE,
    ("POST", "/console/feedback/<feedback_id>/close"): QUEUE,
    ("GET", "/console/deliveries"): REVIEW,
    ("POST", "/console/deliveries/<message_id>/retry"): REVIEW,
    ("GET", "/console/tallies"): TALLIES,
    ("POST", "/console/tallies"): TALLIES,
    ("GET", "/console/call-statistics"): METRICS,
    ("POST", "/console/call-statistics"): METRICS,
    ("POST", "/console/call-statistics/import"): METRICS,
    ("GET", "/console/pcc-report"): METRICS,
    ("GET", "/console/pcc-report.csv"): METRICS,
    ("GET", "/console/maps"): METRICS,
    ("GET", "/console/categories"): ADMIN,
    ("POST", "/console/categories"): ADMIN,
    ("GET", "/console/categories/new"): ADMIN,
    ("GET", "/console/categories/<code>"): ADMIN,
    ("POST", "/console/categories/<code>"): ADMIN,
    ("POST", "/console/categories/<code>/deactivate"): ADMIN,
    ("POST", "/console/categories/<code>/reactivate"): ADMIN,
    ("GET", "/console/partners"): ADMIN,
    ("POST", "/console/partners"): ADMIN,
    ("GET", "/console/partners/new"): ADMIN,
    ("GET", "/console/partners/<partner_id>"): ADMIN,
    ("POST", "/console/partners/<partner_id>"): ADMIN,
    ("POST", "/console/partners/<partner_id>/deactivate"): ADMIN,
    ("POST", "/console/partners/<partner_id>/reactivate"): ADMIN,
    ("GET", "/console/routing-rules"): ADMIN,
    ("POST", "/console/routing-rules"): ADMIN,
    ("GET", "/console/routing-rules/new"): ADMIN,
    ("GET", "/console/routing-rules/test"): ADMIN,
    ("GET", "/console/routing-rules/<rule_id>"): ADMIN,
    ("POST", "/console/routing-rules/<rule_id>"): ADMIN,
    ("POST", "/console/routing-rules/<rule_id>/deactivate"): ADMIN,
    ("POST", "/console/routing-rules/<rule_id>/reactivate"): ADMIN,
    ("GET", "/console/users"): ADMIN,
    ("GET", "/console/users/new"): ADMIN,
    ("POST", "/console/users"): ADMIN,
    ("GET", "/console/users/<user_id>"): ADMIN,
    ("POST", "/console/users/<user_id>"): ADMIN,
    ("POST", "/console/users/<user_id>/password"): ADMIN,
    ("POST", "/console/users/<user_id>/disable"): ADMIN,
    ("POST", "/console/users/<user_id>/enable"): ADMIN,
    ("GET", "/console/open311-clients"): ADMIN,
    ("GET", "/console/open311-clients/new"): ADMIN,
    ("POST", "/console/open311-clients"): ADMIN,
    ("POST", "/console/open311-clients/<client_id>/api-key"): ADMIN,
    ("POST", "/console/open311-clients/<client_id>/deactivate"): ADMIN,
    ("POST", "/console/open311-clients/<client_id>/reactivate"): ADMIN,
    ("GET", "/console/audit"): ADMIN,
    ("GET", "/console/targets"): ADMIN,
    ("POST", "/console/targets"): ADMIN,
}
FORMS: dict[tuple[str, str], Callable[[], dict]] = {
    ("POST", "/console/targets"): lambda: {
        "report_first_action_hours": "48",
        "complaint_first_contact_hours": "48",
        "referral_acknowledgement_hours": "24",
    },
    ("POST", "/console/reports/<report_id>/transitions"): lambda: {"to": "in_progress"},
    ("POST", "/console/reports/<report_id>/notes"): lambda: {"text": "Checked."},
    ("POST", "/console/reports/<report_id>/assignment"): lambda: {"assignee": "none"},
    ("POST", "/console/reports/<report_id>/redactions"): lambda: {
        "what": "description",
        "description": "[redacted]",
        "reason": "A name.",
    },
    ("POST", "/console/complaints/<case_id>/escalation"): lambda: {"reason": "Schedule 3."},
    ("POST", "/console/complaints/<case_id>/closure"): lambda: {"outcome": "withdrawn"},
    ("POST", "/console/complaints/<case_id>/actions"): lambda: {"kind": "apology"},
    ("POST", "/console/complaints/<case_id>/allegations"): lambda: {"group": "other", "code": "x"},
    ("POST", "/console/complaints/<case_id>/assignment"): lambda: {"assignee": "none"},
    ("POST", "/console/complaints/<case_id>/notes"): lambda: {"text": "Checked."},
    ("POST", "/console/reports/<report_id>/messages"): lambda: {
        "text": "When did it start?",
        "kind": "information_request",
    },
    ("POST", "/console/complaints/<case_id>/messages"): lambda: {
        "text": "We are looking into it.",
        "kind": "message",
    },
    ("POST", "/console/users"): lambda: {"display_name": "X", "email": "x@copa.example"},
    ("POST", "/console/users/<user_id>/password"): lambda: {
        "password": "a new password, long enough",
        "password_again": "a new password, long enough",
    },
    ("POST", "/console/open311-clients"): lambda: {"name": "FixMyStreet"},
}


def _console_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console."):
            continue
        plain = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, plain))
    return routes


def test_every_console_route_is_in_the_matrix(app):
    routes = _console_routes(app)
    assert sorted(routes - CONSOLE_MATRIX.keys()) == [], "add these routes to CONSOLE_MATRIX"
    assert sorted(CONSOLE_MATRIX.keys() - routes) == [], "these routes no longer exist"


@functools.cache
def _video() -> bytes:
    from tests.reports.test_videos import phone_video

    with tempfile.TemporaryDirectory() as folder:
        return phone_video(Path(folder) / "v.mov", seconds=1, audio=False)


@pytest.fixture
def ids(app, client, tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    monkeypatch.setitem(app.config, "VIDEO_STORAGE_DIR", str(tmp_path / "videos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    app.extensions.pop(videos.STORE_EXTENSION, None)
    load_reference_data(app)
    resident = bearer(register_device(client)["access_token"])
    report = client.post(
        "/v1/reports",
        json={
            "category": "asb",
            "description": "Youths kicking the bus shelter.",
            "location": {"lat": 54.5762, "lon": -1.2348},
        },
        headers=resident,
    ).get_json()
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    photo = client.post(
        f"/v1/reports/{report['id']}/photos",
        data={"photo": (io.BytesIO(png.getvalue()), "p.png")},
        content_type="multipart/form-data",
        headers=resident,
    ).get_json()
    video = client.post(
        f"/v1/reports/{report['id']}/videos",
        data={"video": (io.BytesIO(_video()), "v.mov")},
        content_type="multipart/form-data",
        headers=resident,
    ).get_json()
    with app.app_context():
        assert videos.run_media_worker(once=True).ready == 1  # the page links a ready video
    feedback = client.post(
        "/v1/feedback",
        json={"kind": "dissatisfaction", "text": "Nobody called me back."},
        headers=resident,
    ).get_json()
    information = client.post(
        f"/v1/reports/{report['id']}/messages",
        json={"text": "They come back every night at ten."},
        headers=resident,
    )
    assert information.status_code == 201, information.get_json()
    with app.app_context():
        case = db.session.scalar(
            sa.select(ComplaintCase).where(ComplaintCase.feedback_id == uuid.UUID(feedback["id"]))
        )
        # A dead letter to a webhook partner, for the deliveries' retry route.
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url="https://partner.example/hooks",
            webhook_secrets=[new_secret()],
        )
        make_referrals(partner)
        message = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.partner_id == partner.id)
        )
        message.state = MessageState.DEAD
        rule = db.session.scalar(sa.select(RoutingRule).order_by(RoutingRule.id).limit(1))
        db.session.commit()
        found = {
            "report_id": report["id"],
            "photo_id": photo["id"],
            "video_id": video["id"],
            "case_id": str(case.id),
            "feedback_id": feedback["id"],
            "message_id": str(message.id),
            "resident_message_id": information.get_json()["id"],
            "filename": "console.css",
            "code": "dog_fouling",
            "partner_id": str(partner.id),
            "rule_id": str(rule.id),
            # A user the user pages may change (never the caller: disabling them would end
            # the very session the matrix checks with).
            "user_id": str(user_with_role(app, "analyst").id),
            "client_id": str(
                api_clients.create_client(
                    None, {"name": "FixMyStreet", "jurisdiction_id": "cleveland.police.uk"}
                ).id
            ),
        }
    yield found
    app.extensions.pop(photos.STORE_EXTENSION, None)
    app.extensions.pop(videos.STORE_EXTENSION, None)


def _url(rule: str, ids: dict[str, str]) -> str:
    url = rule
    for name, value in ids.items():
        url = url.replace(f"<{name}>", value)
    assert "<" not in url, f"no id for {rule}"
    return url


def _caller(app, principal: str):
    """A fresh browser-like client for the principal, and the headers it sends."""
    # The suite's requests share one app context, so one cached CSRF token (flask_wtf keeps it
    # in g); a real browser's requests never share it.
    g.pop(app.config["WTF_CSRF_FIELD_NAME"], None)
    client = app.test_client()
    if principal in STAFF:
        user = user_with_role(app, principal)
        form = client.get("/console/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = client.post(
            "/console/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf}
        )
        assert response.status_code == 303
        return client, {}
    if principal == "resident":
        return client, bearer(register_device(client)["access_token"])
    if principal == "partner":
        return client, bearer(signed_in(app, client, "partner")["access_token"])
    return client, {}


def _to_sign_in(response, rule: str) -> bool:
    """Sent to sign in (signing out does that on purpose)."""
    location = response.headers.get("Location", "")
    return (
        response.status_code == 303
        and location.startswith("/console/login")
        and (rule != "/console/logout")
    )


@pytest.mark.parametrize("method,rule", sorted(CONSOLE_MATRIX), ids=lambda value: value)
def test_console_route_allows_and_refuses_as_declared(app, ids, method, rule):
    allowed = CONSOLE_MATRIX[(method, rule)]
    url = _url(rule, ids)
    wrong = []
    for principal in PRINCIPALS:
        client, headers = _caller(app, principal)
        data = None
        if method == "POST":
            form = client.get("/console/login").get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            data = {"csrf_token": csrf, **FORMS.get((method, rule), dict)()}
        response = client.open(url, method=method, headers=headers, data=data)
        status = response.status_code
        if status >= 500:
            wrong.append(f"{principal}: {status}")
        elif allowed == PUBLIC:
            continue
        elif principal not in STAFF:
            location = response.headers.get("Location", "")
            if status != 303 or not location.startswith("/console/login"):
                wrong.append(f"{principal}: {status} {location}, expected a sign-in redirect")
        elif principal not in allowed:
            if status != 403:
                wrong.append(f"{principal}: {status}, expected 403")
        elif status in (401, 403, 404) or _to_sign_in(response, rule):
            wrong.append(f"{principal}: refused with {status}, should be allowed")
    assert wrong == [], f"{method} {rule}"
