"""The authorization matrix: every route x every kind of caller, allowed or refused as declared
here, and no caller ever shown data that is not theirs (OWASP API1/API5, CONTRACTS.md).

Each route is called by nine principals: nobody, residents A and B, the four staff roles, and
users of partners X and Y. The world they act in holds resident A's report (referred to partner X,
with a photo and contact details), A's complaint and A's vote. Expectations:
- nobody gets 401 on a protected route;
- a principal whose role the route does not allow gets 403;
- a principal whose role is allowed but who does not own the object (resident B on A's report,
  partner Y on X's referral) gets 404, exactly as for an object that does not exist;
- everyone else gets past authorization (not 401, 403 or 404), and nobody ever gets a 5xx;
- no answer to anybody contains text they may not see (A's words, contact details, references).
A route missing from MATRIX fails ``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from copa.call_statistics.models import CallStatistics
from copa.db import db
from copa.feedback.models import ComplaintCase
from copa.notifications.unsubscribe import token_for
from copa.open311.api_clients import create_client
from copa.outbox.models import OutboxMessage
from copa.periods import Quarter, today_london
from copa.reports import photos, videos
from copa.routing.models import Referral, RoutingRule
from copa.signposts.models import Signpost
from copa.signposts.seed import ensure_seed_signposts
from tests.factories import (
    PartnerFactory,
    UserFactory,
    bearer,
    load_reference_data,
    register_device,
    user_tokens,
)

PRINCIPALS = (
    "anonymous",
    "resident_a",
    "resident_b",
    "reviewer",
    "resolution",
    "analyst",
    "admin",
    "partner_x",
    "partner_y",
)
ROLE_OF = {
    "resident_a": "resident",
    "resident_b": "resident",
    "reviewer": "reviewer",
    "resolution": "resolution",
    "analyst": "analyst",
    "admin": "admin",
    "partner_x": "partner",
    "partner_y": "partner",
}
PUBLIC = frozenset({"public"})
ANY_SIGNED_IN = frozenset({"authenticated"})
REFRESH = frozenset({"refresh"})  # the refresh route: each caller sends its refresh token
RESIDENT = frozenset({"resident"})
PARTNER = frozenset({"partner"})
ADMIN = frozenset({"admin"})
REVIEW = frozenset({"reviewer", "admin"})
QUEUE = frozenset({"reviewer", "resolution", "admin"})
COMPLAINTS = frozenset({"resolution", "admin"})
TALLIES = frozenset({"reviewer", "analyst", "admin"})
METRICS = frozenset({"analyst", "admin"})
# Open311 routes a client calls with its api_key: no bearer token opens them (403, Open311's
# answer). Which client sees which request is proven in tests/open311/test_access.py.
API_KEY = frozenset({"open311-api-key"})
# /metrics: a scraper on this host (the matrix's client is on loopback, so everyone gets past),
# or one with COPA_METRICS_TOKEN; refusals are proven in tests/web/test_metrics_endpoint.py.
SCRAPER = frozenset({"loopback-or-metrics-token"})

# What only some may read. Each marker is unique text in the world; visible_to lists who may.
REPORT_WORDS = "Purple-dragon slogans sprayed across the bus shelter"
REPORT_EMAIL = "a.report.contact@example.org"
FEEDBACK_WORDS = "The officer at the Zanzibar-street cordon was rude to me"
FEEDBACK_EMAIL = "a.feedback.contact@example.org"
SEE_REPORT = frozenset({"resident_a", "reviewer", "admin", "partner_x"})
SEE_REPORT_CONTACT = frozenset({"resident_a", "reviewer", "admin"})  # not shared with partners
SEE_FEEDBACK = frozenset({"resident_a", "reviewer", "resolution", "admin"})
# A's messages to staff: never a partner's, until staff pass one on.
REPORT_MESSAGE_WORDS = "The sprayer wore a Tangerine-hooded jacket"
FEEDBACK_MESSAGE_WORDS = "It happened outside the Quokka-lane chip shop"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Entry:
    allowed: frozenset[str]
    owner: str | None = None  # the one principal (of the allowed role) whose object it is
    body: Callable[[], dict] | None = None  # keyword arguments for the request
    world_body: Callable[[World], dict] | None = None  # the same, made from the world
    ids: dict[str, str] | None = None  # path values of this route only, over the world's

    def expected(self, principal: str) -> str:
        """'allow', or the status a refused caller gets."""
        if self.allowed in (PUBLIC, SCRAPER):
            return "allow"
        if self.allowed == API_KEY:
            return "403"
        if principal == "anonymous":
            return "401"
        if self.allowed in (ANY_SIGNED_IN, REFRESH):
            return "allow"
        if ROLE_OF[principal] not in self.allowed:
            return "403"
        if self.owner is not None and principal != self.owner:
            return "404"
        return "allow"


def _json(**values) -> Callable[[], dict]:
    return lambda: {"json": values}


def _query(**values) -> Callable[[], dict]:
    return lambda: {"query_string": values}


def _this_quarter() -> dict:
    quarter = Quarter.of(today_london())
    return {"query_string": {"year": quarter.fiscal_year, "quarter": quarter.quarter}}


def _last_quarter() -> Quarter:
    quarter = Quarter.of(today_london())
    if quarter.quarter == 1:
        return Quarter(quarter.fiscal_year - 1, 4)
    return Quarter(quarter.fiscal_year, quarter.quarter - 1)


def _call_statistics() -> dict:
    quarter = _last_quarter()
    figures = {"non_emergency_calls": 52000, "answered_within_2_minutes_percent": 67.9}
    return {
        "json": {
            "fiscal_year": quarter.fiscal_year,
            "quarter": quarter.quarter,
            "average_wait_seconds": 95,
            **figures,
        }
    }


def _call_statistics_table() -> dict:
    table = (
        f"Measure,{_last_quarter().label}\n"
        "Non-999 calls received,52000\n% answered within 2 minutes,67.9\n"
        "Average wait (seconds),95\n"
    )
    return {"data": table, "content_type": "text/csv"}


def _photo_upload() -> dict:
    return {"data": {"photo": (io.BytesIO(_png()), "p.png")}, "content_type": "multipart/form-data"}


@functools.cache
def _video() -> bytes:
    from tests.reports.test_videos import phone_video

    with tempfile.TemporaryDirectory() as folder:
        return phone_video(Path(folder) / "v.mov", seconds=1, audio=False)


def _video_upload() -> dict:
    return {
        "data": {"video": (io.BytesIO(_video()), "v.mov")},
        "content_type": "multipart/form-data",
    }


def _one_click() -> dict:
    return {
        "data": "List-Unsubscribe=One-Click",
        "content_type": "application/x-www-form-urlencoded",
    }


def _tap() -> dict:
    return {"json": {"event_id": str(uuid.uuid4())}}  # a new tap for each caller


def _signpost() -> dict:
    return {
        "json": {
            "code": f"matrix-{uuid.uuid4().hex[:12]}",
            "title": "Neighbourhood watch",
            "organisation": "Neighbourhood Watch Network",
            "url": "https://www.ourwatch.org.uk/",
            "topic": "crime_prevention",
            "destination_kind": "charity",
        }
    }


def _category() -> dict:
    return {
        "json": {
            "code": f"matrix_{uuid.uuid4().hex[:12]}",
            "name": "Bins left out",
            "group": "non_policing",
            "default_destination": "council",
            "questions": [
                {
                    "code": "how_many",
                    "datatype": "singlevaluelist",
                    "description": "How many bins?",
                    "values": [{"key": "one", "name": "One"}, {"key": "more", "name": "More"}],
                }
            ],
        }
    }


def _open311_request() -> dict:
    form = {
        "service_code": "graffiti",
        "lat": "54.576200",
        "long": "-1.234800",
        "description": "Tags on the wall",
        "attribute[offensive]": "no",
    }
    return {"data": form, "content_type": "application/x-www-form-urlencoded"}


MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/healthz"): Entry(PUBLIC),
    ("GET", "/readyz"): Entry(PUBLIC),
    ("GET", "/metrics"): Entry(SCRAPER),
    # auth
    ("POST", "/v1/auth/devices"): Entry(PUBLIC),
    ("POST", "/v1/auth/login"): Entry(PUBLIC),
    ("POST", "/v1/auth/refresh"): Entry(REFRESH),
    ("POST", "/v1/auth/logout"): Entry(ANY_SIGNED_IN),
    ("GET", "/v1/me"): Entry(ANY_SIGNED_IN),
    ("DELETE", "/v1/me"): Entry(RESIDENT),
    # A's device secret, sent by anyone, opens a new sign-in of A's install (nothing else).
    ("POST", "/v1/auth/devices/<device_id>/sessions"): Entry(
        PUBLIC, world_body=lambda world: {"json": {"device_secret": world.ids["device_secret"]}}
    ),
    ("POST", "/v1/me/transfer-codes"): Entry(RESIDENT),
    ("POST", "/v1/me/transfer"): Entry(RESIDENT, body=_json(code="ABCD-EFGH-JKMN-PQRS-TVWX")),
    ("GET", "/v1/me/notifications"): Entry(RESIDENT),
    ("POST", "/v1/me/notifications/read"): Entry(RESIDENT, body=_json(all=True)),
    ("PUT", "/v1/me/push-token"): Entry(
        RESIDENT, body=_json(platform="android", token="fcm-token-for-the-matrix-0123456789")
    ),
    ("DELETE", "/v1/me/push-token"): Entry(RESIDENT),
    ("GET", "/v1/me/notification-preferences"): Entry(RESIDENT),
    ("PATCH", "/v1/me/notification-preferences"): Entry(RESIDENT, body=_json(push=True)),
    # public lists
    ("GET", "/v1/areas"): Entry(PUBLIC),
    ("GET", "/v1/areas/lookup"): Entry(PUBLIC),
    ("GET", "/v1/categories"): Entry(PUBLIC),
    ("GET", "/v1/categories/<code>"): Entry(PUBLIC),
    ("GET", "/v1/confidence/question"): Entry(PUBLIC),
    ("GET", "/v1/signposts"): Entry(PUBLIC),
    # a tap is counted for anyone, signed in or not; the counting redirect is a 302 for anyone
    ("POST", "/v1/signposts/<signpost_id>/clicks"): Entry(PUBLIC, body=_tap),
    ("GET", "/go/<code>"): Entry(PUBLIC, ids={"code": "report-crime-online"}),
    # the unsubscribe link of residents' emails (A's report contact's): the token is the key
    ("GET", "/v1/unsubscribe/<unsubscribe_token>"): Entry(PUBLIC),
    ("POST", "/v1/unsubscribe/<unsubscribe_token>"): Entry(PUBLIC, body=_one_click),
    # residents
    ("POST", "/v1/reports"): Entry(RESIDENT),
    ("GET", "/v1/reports"): Entry(RESIDENT),
    ("GET", "/v1/reports/<report_id>"): Entry(RESIDENT, owner="resident_a"),
    ("POST", "/v1/reports/<report_id>/photos"): Entry(
        RESIDENT, owner="resident_a", body=_photo_upload
    ),
    ("GET", "/v1/reports/<report_id>/photos/<photo_id>"): Entry(RESIDENT, owner="resident_a"),
    ("POST", "/v1/reports/<report_id>/videos"): Entry(
        RESIDENT, owner="resident_a", body=_video_upload
    ),
    # A video still processing answers its viewers 409; anyone else gets 404 as ever.
    ("GET", "/v1/reports/<report_id>/videos/<video_id>"): Entry(RESIDENT, owner="resident_a"),
    ("GET", "/v1/reports/<report_id>/videos/<video_id>/poster"): Entry(
        RESIDENT, owner="resident_a"
    ),
    ("POST", "/v1/feedback"): Entry(RESIDENT),
    ("GET", "/v1/feedback"): Entry(RESIDENT),
    ("GET", "/v1/feedback/<feedback_id>"): Entry(RESIDENT, owner="resident_a"),
    ("GET", "/v1/reports/<report_id>/messages"): Entry(RESIDENT, owner="resident_a"),
    ("POST", "/v1/reports/<report_id>/messages"): Entry(
        RESIDENT, owner="resident_a", body=_json(text="It is back again tonight.")
    ),
    ("GET", "/v1/feedback/<feedback_id>/messages"): Entry(RESIDENT, owner="resident_a"),
    ("POST", "/v1/feedback/<feedback_id>/messages"): Entry(
        RESIDENT, owner="resident_a", body=_json(text="He was on foot patrol.")
    ),
    ("POST", "/v1/feedback/<feedback_id>/satisfaction"): Entry(
        RESIDENT, owner="resident_a", body=_json(score=4)
    ),
    ("POST", "/v1/confidence/votes"): Entry(RESIDENT),
    ("GET", "/v1/confidence/votes"): Entry(RESIDENT),
    ("GET", "/v1/confidence/votes/<vote_id>"): Entry(RESIDENT, owner="resident_a"),
    # partners
    ("GET", "/v1/partner/referrals"): Entry(PARTNER),
    ("GET", "/v1/partner/referrals/<referral_id>"): Entry(PARTNER, owner="partner_x"),
    ("POST", "/v1/partner/referrals/<referral_id>/acknowledge"): Entry(PARTNER, owner="partner_x"),
    ("POST", "/v1/partner/referrals/<referral_id>/updates"): Entry(
        PARTNER, owner="partner_x", body=_json(status="in_progress", public_note="On it.")
    ),
    ("GET", "/v1/partner/photos/<photo_id>"): Entry(PARTNER, owner="partner_x"),
    ("GET", "/v1/partner/videos/<video_id>"): Entry(PARTNER, owner="partner_x"),
    ("GET", "/v1/partner/videos/<video_id>/poster"): Entry(PARTNER, owner="partner_x"),
    # staff: review
    ("GET", "/v1/staff/queue"): Entry(QUEUE),
    ("GET", "/v1/staff/reports/<report_id>"): Entry(REVIEW),
    ("GET", "/v1/staff/reports/<report_id>/photos/<photo_id>"): Entry(REVIEW),
    ("GET", "/v1/staff/reports/<report_id>/videos/<video_id>"): Entry(REVIEW),
    ("GET", "/v1/staff/reports/<report_id>/videos/<video_id>/poster"): Entry(REVIEW),
    ("POST", "/v1/staff/reports/<report_id>/transitions"): Entry(REVIEW),
    ("POST", "/v1/staff/reports/<report_id>/assignment"): Entry(REVIEW),
    ("POST", "/v1/staff/reports/<report_id>/notes"): Entry(REVIEW),
    ("POST", "/v1/staff/reports/<report_id>/redactions"): Entry(REVIEW),
    ("POST", "/v1/staff/reports/<report_id>/messages"): Entry(
        REVIEW, body=_json(text="When did it start?", kind="information_request")
    ),
    ("POST", "/v1/staff/reports/<report_id>/messages/<resident_message_id>/pass-on"): Entry(REVIEW),
    ("GET", "/v1/staff/feedback/<feedback_id>"): Entry(QUEUE),
    ("POST", "/v1/staff/feedback/<feedback_id>/pass-on"): Entry(
        QUEUE, body=_json(passed_to="Middlesbrough Neighbourhood Policing Team")
    ),
    ("POST", "/v1/staff/feedback/<feedback_id>/answer"): Entry(
        QUEUE, body=_json(response="Thank you: we will look at it.")
    ),
    ("POST", "/v1/staff/feedback/<feedback_id>/close"): Entry(
        QUEUE, body=_json(reason="Sent twice; the first was passed on.")
    ),
    ("GET", "/v1/staff/deliveries"): Entry(REVIEW),
    ("POST", "/v1/staff/deliveries/<message_id>/retry"): Entry(REVIEW),
    ("POST", "/v1/staff/confidence/tallies"): Entry(TALLIES),
    ("GET", "/v1/staff/confidence/tallies"): Entry(TALLIES),
    # staff: the Resolution Team
    ("GET", "/v1/staff/complaints"): Entry(COMPLAINTS),
    ("GET", "/v1/staff/complaints/<case_id>"): Entry(COMPLAINTS),
    ("POST", "/v1/staff/complaints/<case_id>/assignment"): Entry(COMPLAINTS),
    ("POST", "/v1/staff/complaints/<case_id>/transitions"): Entry(COMPLAINTS),
    ("POST", "/v1/staff/complaints/<case_id>/actions"): Entry(COMPLAINTS),
    ("POST", "/v1/staff/complaints/<case_id>/allegations"): Entry(COMPLAINTS),
    ("POST", "/v1/staff/complaints/<case_id>/notes"): Entry(COMPLAINTS),
    ("POST", "/v1/staff/complaints/<case_id>/messages"): Entry(
        COMPLAINTS, body=_json(text="We are looking into it.", kind="message")
    ),
    # admin
    ("POST", "/v1/admin/partners"): Entry(ADMIN),
    ("GET", "/v1/admin/partners"): Entry(ADMIN),
    ("GET", "/v1/admin/partners/<partner_id>"): Entry(ADMIN),
    ("PATCH", "/v1/admin/partners/<partner_id>"): Entry(ADMIN),
    ("DELETE", "/v1/admin/partners/<partner_id>"): Entry(ADMIN),
    ("POST", "/v1/admin/routing-rules"): Entry(ADMIN),
    ("GET", "/v1/admin/routing-rules"): Entry(ADMIN),
    ("GET", "/v1/admin/routing-rules/<rule_id>"): Entry(ADMIN),
    ("PATCH", "/v1/admin/routing-rules/<rule_id>"): Entry(ADMIN),
    ("DELETE", "/v1/admin/routing-rules/<rule_id>"): Entry(ADMIN),
    ("POST", "/v1/admin/routing-rules/test"): Entry(
        ADMIN, body=lambda: {"json": {"category_code": "fly_tipping", "answers": {"size": "large"}}}
    ),
    ("POST", "/v1/admin/users"): Entry(ADMIN),
    ("GET", "/v1/admin/users"): Entry(ADMIN),
    ("GET", "/v1/admin/users/<user_id>"): Entry(ADMIN),
    ("PATCH", "/v1/admin/users/<user_id>"): Entry(ADMIN),
    ("GET", "/v1/admin/audit"): Entry(ADMIN),
    ("POST", "/v1/admin/signposts"): Entry(ADMIN, body=_signpost),
    ("GET", "/v1/admin/signposts"): Entry(ADMIN),
    ("PUT", "/v1/admin/signposts/order"): Entry(
        ADMIN, world_body=lambda world: {"json": {"ids": [world.ids["signpost_id"]]}}
    ),
    ("GET", "/v1/admin/signposts/<signpost_id>"): Entry(ADMIN),
    ("PATCH", "/v1/admin/signposts/<signpost_id>"): Entry(ADMIN, body=_json(sort_order=1)),
    ("DELETE", "/v1/admin/signposts/<signpost_id>"): Entry(ADMIN),
    ("POST", "/v1/admin/categories"): Entry(ADMIN, body=_category),
    ("GET", "/v1/admin/categories"): Entry(ADMIN),
    ("GET", "/v1/admin/categories/<code>"): Entry(ADMIN, ids={"code": "dog_fouling"}),
    ("PATCH", "/v1/admin/categories/<code>"): Entry(
        ADMIN, ids={"code": "dog_fouling"}, body=_json(sort_order=1)
    ),
    ("DELETE", "/v1/admin/categories/<code>"): Entry(ADMIN, ids={"code": "dog_fouling"}),
    ("GET", "/v1/admin/targets"): Entry(ADMIN),
    ("PUT", "/v1/admin/targets"): Entry(
        ADMIN,
        body=_json(
            report_first_action_hours=48,
            category_hours={"asb": 24},
            complaint_first_contact_hours=48,
            referral_acknowledgement_hours=24,
        ),
    ),
    # the Commissioner's measures: aggregates, for analysts and admins
    ("GET", "/v1/metrics/confidence"): Entry(METRICS),
    ("GET", "/v1/metrics/demand"): Entry(METRICS),
    ("GET", "/v1/metrics/feedback"): Entry(METRICS),
    ("GET", "/v1/metrics/issues"): Entry(METRICS, body=_query(level="ward")),
    ("GET", "/v1/metrics/partners"): Entry(METRICS),
    ("GET", "/v1/metrics/targets"): Entry(METRICS),
    ("GET", "/v1/pcc-report"): Entry(METRICS, body=_this_quarter),
    ("POST", "/v1/staff/call-stats"): Entry(METRICS, body=_call_statistics),
    ("GET", "/v1/staff/call-stats"): Entry(METRICS),
    ("GET", "/v1/staff/call-stats/<call_statistics_id>"): Entry(METRICS),
    ("POST", "/v1/staff/call-stats/import"): Entry(METRICS, body=_call_statistics_table),
    ("GET", "/v1/open-data/confidence.csv"): Entry(PUBLIC),
    ("GET", "/v1/open-data/click-throughs.csv"): Entry(PUBLIC),
    # Open311 GeoReport v2, and its clients
    ("POST", "/v1/admin/open311-clients"): Entry(
        ADMIN, body=_json(name="FixMyStreet", jurisdiction_id="cleveland.police.uk")
    ),
    ("GET", "/v1/admin/open311-clients"): Entry(ADMIN),
    ("GET", "/v1/admin/open311-clients/<client_id>"): Entry(ADMIN),
    ("PATCH", "/v1/admin/open311-clients/<client_id>"): Entry(ADMIN),
    ("POST", "/v1/admin/open311-clients/<client_id>/api-key"): Entry(ADMIN),
    ("GET", "/open311/v2/discovery.<fmt>"): Entry(PUBLIC),
    ("GET", "/open311/v2/services.<fmt>"): Entry(PUBLIC),
    ("GET", "/open311/v2/services/<service_code>.<fmt>"): Entry(PUBLIC),
    ("POST", "/open311/v2/requests.<fmt>"): Entry(API_KEY, body=_open311_request),
    ("GET", "/open311/v2/requests.<fmt>"): Entry(API_KEY),
    ("GET", "/open311/v2/requests/<service_request_id>.<fmt>"): Entry(API_KEY),
    ("GET", "/open311/v2/tokens/<token>.<fmt>"): Entry(API_KEY),
}


def _routes(app) -> set[tuple[str, str]]:
    """(method, rule) of every API route, converters left out: ``/v1/reports/<report_id>``.

    The console's pages (a cookie session, not bearer tokens) have their own matrix in
    tests/console/test_console_access.py."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console."):
            continue
        plain = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, plain))
    return routes


def test_every_route_is_in_the_matrix(app):
    routes = _routes(app)
    assert sorted(routes - MATRIX.keys()) == [], "add these routes to MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "these routes no longer exist"


# --- the world -----------------------------------------------------------------------------


@dataclass
class World:
    ids: dict[str, str] = field(default_factory=dict)
    access: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh: dict[str, dict[str, str]] = field(default_factory=dict)
    markers: dict[str, frozenset[str]] = field(default_factory=dict)  # text -> who may see it


@pytest.fixture
def world(app, client, tmp_path, monkeypatch) -> World:
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    monkeypatch.setitem(app.config, "VIDEO_STORAGE_DIR", str(tmp_path / "videos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    app.extensions.pop(videos.STORE_EXTENSION, None)
    load_reference_data(app)
    found = World()
    with app.app_context():
        ensure_seed_signposts()
        found.ids["signpost_id"] = str(
            db.session.scalar(sa.select(Signpost.id).where(Signpost.code == "report-crime-online"))
        )
        x = PartnerFactory(channel="email", email_address="referrals@x.example")
        y = PartnerFactory()
        rule = RoutingRule(
            category_code="graffiti",
            area_level="any",
            answer_code="offensive",
            answer_value="yes",
            partner_id=x.id,
        )
        db.session.add(rule)
        db.session.commit()
        users = {role: UserFactory(roles=[role]) for role in ("reviewer", "resolution", "analyst")}
        users["admin"] = UserFactory(roles=["admin"])
        users["partner_x"] = UserFactory(roles=["partner"], partner=x)
        users["partner_y"] = UserFactory(roles=["partner"], partner=y)
        found.ids.update(partner_id=str(x.id), rule_id=str(rule.id))
        found.ids["user_id"] = str(users["reviewer"].id)
    for name, user in users.items():
        found.access[name], found.refresh[name] = user_tokens(app, user)
    for name in ("resident_a", "resident_b"):
        tokens = register_device(client)
        found.access[name] = bearer(tokens["access_token"])
        found.refresh[name] = bearer(tokens["refresh_token"])
        if name == "resident_a":
            found.ids.update(device_id=tokens["device_id"], device_secret=tokens["device_secret"])

    a = found.access["resident_a"]
    report = client.post(
        "/v1/reports",
        json={
            "category": "graffiti",
            "description": REPORT_WORDS,
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"offensive": "yes"},
            "contact": {"name": "Ali", "email": REPORT_EMAIL},
        },
        headers=a,
    )
    assert report.status_code == 201, report.get_json()
    photo = client.post(
        f"/v1/reports/{report.get_json()['id']}/photos", headers=a, **_photo_upload()
    )
    assert photo.status_code == 201, photo.get_json()
    video = client.post(
        f"/v1/reports/{report.get_json()['id']}/videos", headers=a, **_video_upload()
    )
    assert video.status_code == 202, video.get_json()
    feedback = client.post(
        "/v1/feedback",
        json={
            "kind": "dissatisfaction",
            "text": FEEDBACK_WORDS,
            "contact": {"email": FEEDBACK_EMAIL},
        },
        headers=a,
    )
    assert feedback.status_code == 201, feedback.get_json()
    report_message = client.post(
        f"/v1/reports/{report.get_json()['id']}/messages",
        json={"text": REPORT_MESSAGE_WORDS},
        headers=a,
    )
    assert report_message.status_code == 201, report_message.get_json()
    feedback_message = client.post(
        f"/v1/feedback/{feedback.get_json()['id']}/messages",
        json={"text": FEEDBACK_MESSAGE_WORDS},
        headers=a,
    )
    assert feedback_message.status_code == 201, feedback_message.get_json()
    vote = client.post(
        "/v1/confidence/votes", json={"option": "neither", "area": "E05001497"}, headers=a
    )
    assert vote.status_code == 201, vote.get_json()
    found.ids.update(
        report_id=report.get_json()["id"],
        photo_id=photo.get_json()["id"],
        video_id=video.get_json()["id"],
        feedback_id=feedback.get_json()["id"],
        vote_id=vote.get_json()["id"],
        resident_message_id=report_message.get_json()["id"],
        code="graffiti",
        fmt="json",
        service_code="graffiti",
        # A's report asked for through Open311: no client, let alone a bearer token, sees it.
        service_request_id=report.get_json()["reference"],
        token="no-such-token",
    )
    found.markers = {
        REPORT_WORDS: SEE_REPORT,
        report.get_json()["reference"]: SEE_REPORT,
        REPORT_EMAIL: SEE_REPORT_CONTACT,
        FEEDBACK_WORDS: SEE_FEEDBACK,
        feedback.get_json()["reference"]: SEE_FEEDBACK,
        FEEDBACK_EMAIL: SEE_FEEDBACK,
        REPORT_MESSAGE_WORDS: SEE_REPORT_CONTACT,
        FEEDBACK_MESSAGE_WORDS: SEE_FEEDBACK,
    }
    with app.app_context():
        report_id = uuid.UUID(found.ids["report_id"])
        referral = db.session.scalar(sa.select(Referral).where(Referral.report_id == report_id))
        message = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.referral_id == referral.id)
        )
        case = db.session.scalar(
            sa.select(ComplaintCase).where(
                ComplaintCase.feedback_id == uuid.UUID(found.ids["feedback_id"])
            )
        )
        found.ids.update(referral_id=str(referral.id), message_id=str(message.id))
        found.ids["case_id"] = str(case.id)
        found.ids["unsubscribe_token"] = token_for(referral.report.contact_id)
        quarter = _last_quarter()
        figures = CallStatistics(
            fiscal_year=quarter.fiscal_year,
            fiscal_quarter=quarter.quarter,
            non_emergency_calls=61000,
            answered_within_2_minutes_percent=71.2,
            average_wait_seconds=80,
        )
        db.session.add(figures)
        db.session.commit()
        found.ids["call_statistics_id"] = str(figures.id)
        found.ids["client_id"] = str(
            create_client(None, {"name": "FixMyStreet", "jurisdiction_id": "fms"}).id
        )
    yield found
    app.extensions.pop(photos.STORE_EXTENSION, None)
    app.extensions.pop(videos.STORE_EXTENSION, None)


def _url(rule: str, ids: dict[str, str]) -> str:
    url = rule
    for name, value in ids.items():
        url = url.replace(f"<{name}>", value)
    assert "<" not in url, f"no id for {rule}"
    return url


def _order(entry: Entry) -> list[str]:
    """Refused callers first, then allowed ones, the owner last: an allowed call may change the
    world (erase a resident, withdraw a referral) and must not decide a refusal's answer."""
    expectations = {principal: entry.expected(principal) for principal in PRINCIPALS}
    refused = [p for p in PRINCIPALS if expectations[p] != "allow"]
    allowed = [p for p in PRINCIPALS if expectations[p] == "allow" and p != entry.owner]
    return refused + allowed + ([entry.owner] if entry.owner else [])


@pytest.mark.parametrize("method,rule", sorted(MATRIX), ids=lambda value: value)
def test_route_allows_and_refuses_as_declared_and_leaks_nothing(client, world, method, rule):
    entry = MATRIX[(method, rule)]
    url = _url(rule, {**world.ids, **(entry.ids or {})})
    wrong = []
    for principal in _order(entry):
        expected = entry.expected(principal)
        tokens = world.refresh if entry.allowed == REFRESH else world.access
        headers = tokens.get(principal, {})
        kwargs = (
            entry.world_body(world)
            if entry.world_body
            else entry.body()
            if entry.body
            else ({"json": {}} if method in ("POST", "PATCH") else {})
        )
        response = client.open(url, method=method, headers=headers, **kwargs)
        status = response.status_code
        text = response.get_data().decode("utf-8", "replace")
        if status >= 500:
            wrong.append(f"{principal}: {status}")
        elif expected == "allow" and status in (401, 403, 404):
            wrong.append(f"{principal}: refused with {status}, should be allowed")
        elif expected != "allow" and str(status) != expected:
            wrong.append(f"{principal}: {status}, expected {expected}")
        # Open311 refuses in its own shape (the path asks for .json here).
        refusal = "application/json" if entry.allowed == API_KEY else "application/problem+json"
        if expected != "allow" and response.mimetype != refusal:
            wrong.append(f"{principal}: refusal is not {refusal}")
        for marker, visible_to in world.markers.items():
            if principal not in visible_to and marker in text:
                wrong.append(f"{principal}: sees {marker!r}")
    assert wrong == [], f"{method} {rule}"
