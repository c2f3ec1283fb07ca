"""Admins add, change and deactivate categories and their extra questions: residents' apps see
the change at once (the ETag changes), and reports already made keep what they were asked."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.routing.models import Referral, RoutingRule
from tests.factories import (
    PartnerFactory,
    UserFactory,
    bearer,
    load_reference_data,
    login,
    register_device,
    signed_in,
)

ADMIN = "/v1/admin/categories"
PROBLEM_JSON = "application/problem+json"
IN_MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}


@pytest.fixture
def cleveland(app):
    load_reference_data(app)


@pytest.fixture
def admin(app, client, cleveland) -> dict[str, str]:
    return bearer(signed_in(app, client, "admin")["access_token"])


@pytest.fixture
def reviewer(app, client, cleveland) -> dict[str, str]:
    return bearer(signed_in(app, client, "reviewer")["access_token"])


@pytest.fixture
def resident(client, cleveland) -> dict[str, str]:
    return bearer(register_device(client)["access_token"])


def bins(**overrides) -> dict:
    body = {
        "code": "bins_left_out",
        "name": "Bins left out",
        "description": "Wheelie bins left on the pavement after collection day.",
        "group": "non_policing",
        "default_destination": "council",
        "keywords": ["bins", "pavement", "bins"],
        "questions": [
            {
                "code": "how_many",
                "datatype": "singlevaluelist",
                "description": "How many bins?",
                "required": True,
                "values": [{"key": "one", "name": "One"}, {"key": "several", "name": "Several"}],
            },
            {"code": "street", "datatype": "string", "description": "Which street?"},
        ],
    }
    body.update(overrides)
    return body


def refused(response, field: str, status: int = 422) -> dict:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert any(key == field or key.startswith(f"{field}.") for key in body["errors"]), body
    return body


def public(client, code: str) -> dict | None:
    listed = client.get("/v1/categories").get_json()
    return next((c for c in listed if c["code"] == code), None)


def report(client, resident, category: str, answers: dict) -> dict:
    response = client.post(
        "/v1/reports",
        json={
            "category": category,
            "description": "It has been there for a week.",
            "location": IN_MIDDLEHAVEN,
            "answers": answers,
        },
        headers=resident,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- the acceptance: added, seen by the app, old reports unchanged -----------------------------


def test_an_added_category_reaches_the_app_with_a_new_etag_and_its_question(
    client, admin, resident
):
    before = client.get("/v1/categories")
    etag = before.headers["ETag"]
    assert client.get("/v1/categories", headers={"If-None-Match": etag}).status_code == 304

    made = client.post(ADMIN, json=bins(), headers=admin)
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"].endswith(f"{ADMIN}/bins_left_out")

    after = client.get("/v1/categories", headers={"If-None-Match": etag})
    assert after.status_code == 200  # the app's old copy is stale, not "not modified"
    assert after.headers["ETag"] != etag
    offered = public(client, "bins_left_out")
    assert offered["name"] == "Bins left out"
    assert offered["keywords"] == ["bins", "pavement"]  # once each
    assert [q["code"] for q in offered["questions"]] == ["how_many", "street"]
    assert offered["questions"][0] == {
        "code": "how_many",
        "datatype": "singlevaluelist",
        "required": True,
        "description": "How many bins?",
        "order": 1,
        "values": [{"key": "one", "name": "One"}, {"key": "several", "name": "Several"}],
    }
    # and a resident can report under it, its required question enforced
    missing = client.post(
        "/v1/reports",
        json={"category": "bins_left_out", "description": "Bins.", "location": IN_MIDDLEHAVEN},
        headers=resident,
    )
    refused(missing, "answers.how_many")
    made_report = report(client, resident, "bins_left_out", {"how_many": "several"})
    assert made_report["answered_questions"] == [
        {
            "code": "how_many",
            "question": "How many bins?",
            "datatype": "singlevaluelist",
            "answer": "several",
            "labels": ["Several"],
        }
    ]


def test_every_admin_edit_changes_the_public_etag(client, admin):
    etag = client.get("/v1/categories").headers["ETag"]
    changed = client.patch(
        f"{ADMIN}/graffiti",
        json={
            "questions": [
                {
                    "code": "offensive",
                    "datatype": "singlevaluelist",
                    "description": "Is it offensive or hateful?",
                    "values": [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}],
                }
            ]
        },
        headers=admin,
    )
    assert changed.status_code == 200, changed.get_json()
    fresh = client.get("/v1/categories", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert (
        public(client, "graffiti")["questions"][0]["description"] == "Is it offensive or hateful?"
    )
    one = client.get("/v1/categories/graffiti")
    assert one.get_json()["questions"][0]["description"] == "Is it offensive or hateful?"

    etag = fresh.headers["ETag"]
    assert client.delete(f"{ADMIN}/graffiti", headers=admin).status_code == 204
    gone = client.get("/v1/categories", headers={"If-None-Match": etag})
    assert gone.status_code == 200 and public(client, "graffiti") is None


@pytest.fixture
def partner_x(app, client, cleveland) -> dict[str, str]:
    """A partner to which offensive graffiti goes, signed in."""
    with app.app_context():
        x = PartnerFactory(name="Graffiti Busters", kind="council")
        db.session.add(
            RoutingRule(
                category_code="graffiti",
                area_level="any",
                answer_code="offensive",
                answer_value="yes",
                partner_id=x.id,
            )
        )
        db.session.commit()
        email = UserFactory(roles=["partner"], partner=x).email
    return bearer(login(client, email)["access_token"])


def _graffiti_questions(offensive: str, yes: str, *, surface: bool) -> list[dict]:
    questions = [
        {
            "code": "offensive",
            "datatype": "singlevaluelist",
            "description": offensive,
            "values": [{"key": "yes", "name": yes}, {"key": "no", "name": "No"}],
        }
    ]
    if surface:
        questions.append({"code": "surface", "datatype": "string", "description": "On what?"})
    return questions


def views_of(app, client, report_id, *, resident, staff, partner) -> dict[str, list[dict]]:
    """The report's answered questions as the resident, staff and the partner see them."""
    with app.app_context():
        referral_id = db.session.scalar(
            sa.select(Referral.id).where(Referral.report_id == uuid.UUID(report_id))
        )
    seen = {
        "resident": client.get(f"/v1/reports/{report_id}", headers=resident),
        "staff": client.get(f"/v1/staff/reports/{report_id}", headers=staff),
        "partner": client.get(f"/v1/partner/referrals/{referral_id}", headers=partner),
    }
    for who, response in seen.items():
        assert response.status_code == 200, (who, response.get_json())
    return {who: response.get_json()["answered_questions"] for who, response in seen.items()}


def test_an_old_report_keeps_the_questions_and_labels_it_was_asked(
    app, client, admin, reviewer, resident, partner_x
):
    asked = _graffiti_questions("Is it offensive?", "Yes", surface=True)
    assert (
        client.patch(f"{ADMIN}/graffiti", json={"questions": asked}, headers=admin).status_code
        == 200
    )
    old = report(client, resident, "graffiti", {"offensive": "yes", "surface": "Bus shelter"})

    # The admin rewords the question, relabels a choice and removes the other question.
    new_questions = _graffiti_questions(
        "Does it use offensive words or symbols?", "Yes, offensive", surface=False
    )
    changed = client.patch(f"{ADMIN}/graffiti", json={"questions": new_questions}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    new = report(client, resident, "graffiti", {"offensive": "yes"})

    as_asked = [
        {
            "code": "offensive",
            "question": "Is it offensive?",
            "datatype": "singlevaluelist",
            "answer": "yes",
            "labels": ["Yes"],
        },
        {
            "code": "surface",
            "question": "On what?",
            "datatype": "string",
            "answer": "Bus shelter",
            "labels": [],
        },
    ]
    old_views = views_of(
        app, client, old["id"], resident=resident, staff=reviewer, partner=partner_x
    )
    assert old_views == {"resident": as_asked, "staff": as_asked, "partner": as_asked}

    newly_asked = [
        {
            "code": "offensive",
            "question": "Does it use offensive words or symbols?",
            "datatype": "singlevaluelist",
            "answer": "yes",
            "labels": ["Yes, offensive"],
        }
    ]
    new_views = views_of(
        app, client, new["id"], resident=resident, staff=reviewer, partner=partner_x
    )
    assert new_views == {"resident": newly_asked, "staff": newly_asked, "partner": newly_asked}
    # the plain answers stay as they were, for apps that read them
    assert client.get(f"/v1/reports/{old['id']}", headers=resident).get_json()["answers"] == {
        "offensive": "yes",
        "surface": "Bus shelter",
    }


# --- the admin API ----------------------------------------------------------------------------


def test_admins_list_every_category_active_or_not_a_page_at_a_time(client, admin):
    assert client.delete(f"{ADMIN}/dog_fouling", headers=admin).status_code == 204
    everything = client.get(ADMIN, query_string={"page_size": 100}, headers=admin).get_json()
    codes = {c["code"]: c["active"] for c in everything["items"]}
    assert codes["dog_fouling"] is False and codes["graffiti"] is True
    assert everything["total"] == len(everything["items"])
    inactive = client.get(ADMIN, query_string={"active": "false"}, headers=admin).get_json()
    assert [c["code"] for c in inactive["items"]] == ["dog_fouling"]
    page = client.get(ADMIN, query_string={"page_size": 2, "page": 2}, headers=admin).get_json()
    assert len(page["items"]) == 2 and page["page"] == 2
    # still readable by code, and offered again on request
    assert client.get(f"{ADMIN}/dog_fouling", headers=admin).get_json()["active"] is False
    assert client.get("/v1/categories/dog_fouling").status_code == 404
    again = client.patch(f"{ADMIN}/dog_fouling", json={"active": True}, headers=admin)
    assert again.get_json()["active"] is True
    assert client.get("/v1/categories/dog_fouling").status_code == 200


def test_each_change_is_in_the_audit_log_with_before_and_after(app, client, admin):
    made = client.post(ADMIN, json=bins(), headers=admin).get_json()
    client.patch(f"{ADMIN}/bins_left_out", json={"name": "Bins on the pavement"}, headers=admin)
    client.delete(f"{ADMIN}/bins_left_out", headers=admin)
    with app.app_context():
        events = list(
            db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.target_id == uuid.UUID(made["id"]))
                .order_by(AuditEvent.at)
            )
        )
        assert [e.action for e in events] == [
            "category.create",
            "category.update",
            "category.deactivate",
        ]
        assert events[0].after["questions"][0]["description"] == "How many bins?"
        assert events[1].before == {"name": "Bins left out"}
        assert events[1].after == {"name": "Bins on the pavement"}
        assert events[2].after == {"active": False}


def test_a_taken_code_is_409_and_a_retry_with_the_same_key_is_one_category(client, admin):
    key = {"Idempotency-Key": "bins-1", **admin}
    first = client.post(ADMIN, json=bins(), headers=key)
    again = client.post(ADMIN, json=bins(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    taken = client.post(ADMIN, json=bins(), headers=admin)
    refused(taken, "code", 409)
    seed_taken = client.post(ADMIN, json=bins(code="graffiti"), headers=admin)
    refused(seed_taken, "code", 409)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "Bins Left"}, "code"),
        ({"code": "x" * 65}, "code"),
        ({"group": "parks"}, "group"),
        ({"default_destination": "the_moon"}, "default_destination"),
        ({"name": ""}, "name"),
        ({"name": "Bins\x00"}, "name"),
        ({"location_required": "yes"}, "location_required"),
        ({"status": "active"}, "status"),
        ({"questions": [{"code": "a", "datatype": "colour", "description": "?"}]}, "questions"),
        (
            {"questions": [{"code": "a", "datatype": "singlevaluelist", "description": "?"}]},
            "questions",
        ),
        (
            {
                "questions": [
                    {
                        "code": "a",
                        "datatype": "multivaluelist",
                        "description": "Which?",
                        "values": [{"key": "x", "name": "X"}, {"key": "x", "name": "Also X"}],
                    }
                ]
            },
            "questions",
        ),
        (
            {
                "questions": [
                    {
                        "code": "a",
                        "datatype": "string",
                        "description": "?",
                        "values": [{"key": "x", "name": "X"}],
                    }
                ]
            },
            "questions",
        ),
        (
            {
                "questions": [
                    {"code": "a", "datatype": "string", "description": "One?"},
                    {"code": "a", "datatype": "text", "description": "Two?"},
                ]
            },
            "questions",
        ),
        ({"questions": [{"code": "a", "datatype": "string"}]}, "questions"),
        (
            {"questions": [{"code": "a", "datatype": "string", "description": "?", "x": 1}]},
            "questions",
        ),
    ],
)
def test_bad_categories_are_refused_naming_the_field(client, admin, change, field):
    before = client.get("/v1/categories").headers["ETag"]
    refused(client.post(ADMIN, json=bins(**change), headers=admin), field)
    assert client.get("/v1/categories").headers["ETag"] == before  # nothing half-saved


def test_a_bad_change_leaves_the_category_as_it_was(client, admin):
    bad = client.patch(
        f"{ADMIN}/graffiti",
        json={
            "name": "Tags",
            "questions": [{"code": "", "datatype": "string", "description": "?"}],
        },
        headers=admin,
    )
    refused(bad, "questions")
    assert public(client, "graffiti")["name"] == "Graffiti"
    refused(client.patch(f"{ADMIN}/graffiti", json={"code": "tags"}, headers=admin), "code")


@pytest.mark.parametrize("code", ["no_such_thing", "%00", "Graffiti", "graffiti%0A"])
def test_an_unknown_category_is_404(client, admin, code):
    for response in (
        client.get(f"{ADMIN}/{code}", headers=admin),
        client.patch(f"{ADMIN}/{code}", json={"name": "X"}, headers=admin),
        client.delete(f"{ADMIN}/{code}", headers=admin),
    ):
        # a control character in the path is refused before routing (copa/web/input_guard.py)
        assert response.status_code == (400 if "%" in code else 404)
        assert response.mimetype == PROBLEM_JSON


def test_only_admins_change_categories(client, reviewer, resident):
    for headers in (reviewer, resident):
        assert client.post(ADMIN, json=bins(), headers=headers).status_code == 403
        assert client.delete(f"{ADMIN}/graffiti", headers=headers).status_code == 403
    assert client.get(ADMIN).status_code == 401


def test_the_console_shows_an_old_report_with_the_question_it_was_asked(
    app, client, admin, resident
):
    from tests.console.test_console import sign_in

    asked = _graffiti_questions("Is it offensive?", "Yes", surface=False)
    assert (
        client.patch(f"{ADMIN}/graffiti", json={"questions": asked}, headers=admin).status_code
        == 200
    )
    old = report(client, resident, "graffiti", {"offensive": "yes"})
    reworded = _graffiti_questions("Does it use offensive words?", "Yes, offensive", surface=False)
    assert (
        client.patch(f"{ADMIN}/graffiti", json={"questions": reworded}, headers=admin).status_code
        == 200
    )

    sign_in(client, app, "reviewer")
    page = client.get(f"/console/reports/{old['id']}").get_data(as_text=True)

    assert "Is it offensive?" in page
    assert "Does it use offensive words?" not in page and "Yes, offensive" not in page
