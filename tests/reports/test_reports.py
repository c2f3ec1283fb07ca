"""A resident reports a non-emergency issue from the app."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from copa.contacts.models import Contact
from copa.db import db
from copa.outbox.models import OutboxMessage
from copa.references import ReferenceCounter
from copa.reports.models import Report, TimelineEntry
from copa.routing.models import Partner, Referral, RoutingRule
from tests.factories import bearer, load_reference_data, register_device, signed_in, table_counts

MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
LONDON = {"lat": 51.5074, "lon": -0.1278}


@pytest.fixture
def resident(app, client):
    load_reference_data(app)
    return bearer(register_device(client)["access_token"])


def report(**overrides) -> dict:
    body = {
        "category": "fly_tipping",
        "description": "Mattresses and bin bags dumped behind the shops on Parliament Road.",
        "location": MIDDLESBROUGH,
        "answers": {"size": "small", "waste_type": ["household"]},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def stored(app) -> dict[str, int]:
    return table_counts(app, Report, TimelineEntry, Contact, ReferenceCounter)


def test_report_is_accepted_attributed_and_told_where_it_goes(client, resident):
    response = client.post(
        "/v1/reports",
        json=report(
            address_text="Behind 12 Parliament Road",
            occurred_at="2026-01-10T08:30:00+00:00",
            would_have_called_101="yes",
            contact={"name": "Sam", "email": "sam@example.org", "phone": "07700 900123"},
            share_contact_with_partner=True,
        ),
        headers=resident,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/v1/reports/{body['id']}")
    assert re.fullmatch(r"COPA-\d{2}-\d{6}", body["reference"])
    assert body["status"] == "routed"
    assert body["area"] == {
        "ward": {"code": "E05001497", "name": "Middlehaven"},
        "local_authority": {"code": "E06000002", "name": "Middlesbrough"},
    }
    assert body["destination"] == {"kind": "council", "name": "Middlesbrough Council"}
    assert body["emergency_advice"] is None
    assert body["contact"] == {
        "name": "Sam",
        "email": "sam@example.org",
        "phone": "+447700900123",  # stored and shown in E.164
        "notify_by_email": False,  # not asked for
    }
    assert body["share_contact_with_partner"] is True
    assert [entry["to_status"] for entry in body["timeline"]] == ["received", "routed"]
    assert body["timeline"][1]["public_note"] == "Passed to Middlesbrough Council."
    # The resident can read it back.
    again = client.get(response.headers["Location"], headers=resident).get_json()
    assert again["reference"] == body["reference"] and again["answers"] == {
        "size": "small",
        "waste_type": ["household"],
    }


def test_references_are_unique_and_increase(client, resident):
    first = client.post("/v1/reports", json=report(), headers=resident).get_json()["reference"]
    second = client.post("/v1/reports", json=report(), headers=resident).get_json()["reference"]
    assert first != second
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


def test_question_needs_no_location(client, resident):
    response = client.post(
        "/v1/reports",
        json=report(
            category="question",
            location=None,
            answers=None,
            description="How do I join my local Police and Crime Panel meeting?",
        ),
        headers=resident,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["area"] is None
    assert body["destination"]["kind"] == "opcc"


def test_tenant_asb_goes_to_the_landlord_named_in_the_answer(client, resident):
    response = client.post(
        "/v1/reports",
        json=report(
            category="housing_asb",
            answers={"landlord": "thirteen"},
            description="Loud parties every night in the flat upstairs.",
        ),
        headers=resident,
    )
    assert response.status_code == 201
    assert response.get_json()["destination"] == {
        "kind": "housing_provider",
        "name": "Thirteen Housing",
    }


@pytest.mark.parametrize(
    "wording,happening_now",
    [
        ("A man is waving a knife outside the shop", False),
        ("Someone is BLEEDING in the alley", False),
        ("Youths throwing stones at cars", True),
    ],
)
def test_possible_emergency_is_stored_and_told_to_call_999(
    app, client, resident, wording, happening_now
):
    response = client.post(
        "/v1/reports",
        json=report(category="asb", answers=None, description=wording, happening_now=happening_now),
        headers=resident,
    )
    assert response.status_code == 201
    assert "999" in response.get_json()["emergency_advice"]
    with app.app_context():
        assert (
            db.session.get(Report, uuid.UUID(response.get_json()["id"])).possible_emergency is True
        )


def test_ordinary_wording_is_not_flagged(client, resident):
    body = client.post(
        "/v1/reports",
        json=report(
            category="asb", answers=None, description="Kids kicking a football against my fence."
        ),
        headers=resident,
    ).get_json()
    assert body["emergency_advice"] is None


BAD_REPORTS = [
    ("unknown field", {"priority": "high"}, "priority"),
    ("status is not the resident's to set", {"status": "resolved"}, "status"),
    ("destination is not the resident's to set", {"destination": "opcc"}, "destination"),
    ("empty description", {"description": ""}, "description"),
    ("blank description", {"description": "   "}, "description"),
    ("overlong description", {"description": "x" * 4001}, "description"),
    ("NUL in description", {"description": "bad\x00text"}, "description"),
    ("escape in description", {"description": "bad\x1b[31mtext"}, "description"),
    ("description not a string", {"description": 42}, "description"),
    ("unknown category", {"category": "parking"}, "category"),
    ("latitude out of range", {"location": {"lat": 91, "lon": -1.2}}, "location.lat"),
    ("longitude not a number", {"location": {"lat": 54.5, "lon": "west"}}, "location.lon"),
    ("location missing", {"location": None}, "location"),
    ("outside Cleveland", {"location": LONDON}, None),
    (
        "future occurred_at",
        {"occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
        "occurred_at",
    ),
    ("occurred_at without offset", {"occurred_at": "2026-01-10T08:30:00"}, "occurred_at"),
    ("occurred_at not a date", {"occurred_at": "yesterday"}, "occurred_at"),
    ("answer outside allowed values", {"answers": {"size": "enormous"}}, "answers.size"),
    ("answer of the wrong datatype", {"answers": {"size": ["small"]}}, "answers.size"),
    ("required answer missing", {"answers": {}}, "answers.size"),
    (
        "answer to an unknown question",
        {"answers": {"size": "small", "colour": "red"}},
        "answers.colour",
    ),
    ("invalid email", {"contact": {"email": "not-an-email"}}, "contact.email"),
    ("invalid phone", {"contact": {"phone": "call me maybe"}}, "contact.phone"),
    ("phone too short to be a number", {"contact": {"phone": "1234567"}}, "contact.phone"),
    ("phone with an extension", {"contact": {"phone": "01642 301653 ext 12"}}, "contact.phone"),
    ("phone typed at length", {"contact": {"phone": "0" * 33}}, "contact.phone"),
    ("contact without a way to reach", {"contact": {"name": "Sam"}}, "contact._schema"),
    (
        "anonymous with contact",
        {"anonymous": True, "contact": {"email": "a@example.org"}},
        "contact",
    ),
    ("would_have_called_101 unknown", {"would_have_called_101": "maybe"}, "would_have_called_101"),
    ("happening_now not a boolean", {"happening_now": "very"}, "happening_now"),
]


@pytest.mark.parametrize(
    "typed,kept",
    [
        ("01642 301653", "+441642301653"),
        ("(01642) 301653", "+441642301653"),
        ("+44 7700 900123", "+447700900123"),
        ("0044 1642 301653", "+441642301653"),
        ("+1 202 555 0123", "+12025550123"),
    ],
)
def test_a_phone_number_is_kept_in_e164_however_it_is_typed(app, client, resident, typed, kept):
    response = client.post(
        "/v1/reports",
        json=report(contact={"phone": typed}, share_contact_with_partner=True),
        headers=resident,
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["contact"]["phone"] == kept
    with app.app_context():
        assert db.session.scalars(sa.select(Contact.phone)).all() == [kept]
        # As written to the database, not only as the model reads it back.
        assert db.session.execute(sa.text("SELECT phone FROM contact")).scalars().all() == [kept]


def test_a_number_kept_before_e164_is_shown_in_e164(app, client, resident):
    made = client.post(
        "/v1/reports", json=report(contact={"phone": "01642301653"}), headers=resident
    )
    with app.app_context():
        # A row from before numbers were normalised (written around the model).
        db.session.execute(sa.text("UPDATE contact SET phone = '01642 301653'"))
        db.session.commit()

    again = client.get(made.headers["Location"], headers=resident).get_json()

    assert again["contact"]["phone"] == "+441642301653"


@pytest.mark.parametrize("case,changes,field", BAD_REPORTS, ids=[c[0] for c in BAD_REPORTS])
def test_bad_report_is_refused_with_the_field_and_nothing_is_stored(
    app, client, resident, case, changes, field
):
    before = stored(app)
    response = client.post("/v1/reports", json=report(**changes), headers=resident)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    if field is None:
        assert body["type"].endswith("out-of-area") and "101" in body["detail"]
    else:
        assert field in body["errors"], body
    assert stored(app) == before


def test_json_body_over_the_cap_is_413_and_nothing_is_stored(app, client, resident):
    before = stored(app)
    response = client.post("/v1/reports", json=report(description="x" * 70_000), headers=resident)
    assert response.status_code == 413
    assert stored(app) == before


def test_resident_sees_only_their_own_reports(client, resident):
    mine = client.post("/v1/reports", json=report(), headers=resident).get_json()
    other = bearer(register_device(client)["access_token"])
    assert client.get(f"/v1/reports/{mine['id']}", headers=other).status_code == 404
    assert client.get("/v1/reports", headers=other).get_json()["total"] == 0
    missing = client.get("/v1/reports/00000000-0000-4000-8000-000000000000", headers=other)
    assert missing.status_code == 404
    assert (
        missing.get_json()["detail"]
        == client.get(f"/v1/reports/{mine['id']}", headers=other).get_json()["detail"]
    )


def test_own_reports_are_listed_newest_first_in_pages(client, resident):
    made = [
        client.post(
            "/v1/reports", json=report(description=f"Report {n}"), headers=resident
        ).get_json()
        for n in range(3)
    ]
    page = client.get("/v1/reports?page=1&page_size=2", headers=resident).get_json()
    assert page["total"] == 3 and page["page_size"] == 2
    assert [item["reference"] for item in page["items"]] == [
        made[2]["reference"],
        made[1]["reference"],
    ]
    last = client.get("/v1/reports?page=2&page_size=2", headers=resident).get_json()
    assert [item["reference"] for item in last["items"]] == [made[0]["reference"]]
    assert client.get("/v1/reports?page_size=1000", headers=resident).status_code == 422
    assert client.get("/v1/reports?page=99999999999999999999", headers=resident).status_code == 422


def test_staff_and_partners_cannot_make_resident_reports(app, client, resident):
    for role in ("reviewer", "partner"):
        tokens = signed_in(app, client, role)
        response = client.post("/v1/reports", json=report(), headers=bearer(tokens["access_token"]))
        assert response.status_code == 403


def test_retried_report_with_the_same_key_is_created_once(app, client, resident):
    headers = {**resident, "Idempotency-Key": "report-retry-1"}
    first = client.post("/v1/reports", json=report(), headers=headers)
    second = client.post("/v1/reports", json=report(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.get_json()["reference"] == first.get_json()["reference"]
    assert stored(app)["report"] == 1


def test_reports_are_rate_limited_per_device(app, client, resident, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_REPORTS", "2/hour")
    statuses = [
        client.post("/v1/reports", json=report(), headers=resident).status_code for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    other = bearer(register_device(client)["access_token"])
    assert client.post("/v1/reports", json=report(), headers=other).status_code == 201


def test_no_ip_address_is_stored_with_a_report(app, client, resident):
    import sqlalchemy as sa

    client.post(
        "/v1/reports",
        json=report(contact={"email": "sam@example.org"}),
        headers=resident,
        environ_base={"REMOTE_ADDR": "203.0.113.77"},
    )
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                assert all("203.0.113.77" not in str(value) for value in row.values()), table.name


def test_large_fly_tipping_goes_to_the_environment_agency(client, resident):
    response = client.post("/v1/reports", json=report(answers={"size": "large"}), headers=resident)
    assert response.get_json()["destination"] == {
        "kind": "environment_agency",
        "name": "Environment Agency",
    }


def test_report_no_rule_matches_stays_received_for_staff(app, client, resident):
    with app.app_context():
        db.session.execute(sa.update(RoutingRule).values(active=False))
        db.session.commit()
    response = client.post("/v1/reports", json=report(), headers=resident)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "received"
    assert body["destination"]["kind"] == "unrouted"
    with app.app_context():
        stored = db.session.get(Report, uuid.UUID(body["id"]))
        assert stored.unrouted is True
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0


def test_report_referral_and_outbox_message_are_written_together(app, client, resident):
    with app.app_context():
        council = db.session.scalar(
            sa.select(Partner).where(Partner.code == "middlesbrough-council")
        )
        council.channel, council.email_address = "email", "referrals@middlesbrough.example"
        db.session.commit()
    body = client.post("/v1/reports", json=report(), headers=resident).get_json()
    with app.app_context():
        referral = db.session.scalars(sa.select(Referral)).one()
        message = db.session.scalars(sa.select(OutboxMessage)).one()
        assert (
            str(referral.report_id) == body["id"]
            and referral.partner.code == "middlesbrough-council"
        )
        assert message.referral_id == referral.id and message.channel == "email"
        assert message.state == "pending"
