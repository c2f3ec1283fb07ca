"""The console's routing-rule pages: the rules in the order routing weighs them, in words; an
admin adds, changes and stops a rule; the tester says where a report would go and by which rule,
as routing itself decides; and a category change that would leave a rule never matching warns."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.reports.models import Report
from copa.routing.models import Partner, RoutingRule
from tests.console.test_operations import sign_in, submit, text_of
from tests.factories import bearer, load_reference_data, register_device

NEW = "/console/routing-rules/new"
TEST = "/console/routing-rules/test"
LINTHORPE = "E05001488"  # a Middlesbrough ward
MIDDLESBROUGH = "E06000002"
ACKLAM = {"lat": 54.54418, "lon": -1.24703}  # Middlesbrough, ward E05001482


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    sign_in(client, app, "admin")


def partner_id(app, code: str) -> str:
    with app.app_context():
        return str(db.session.scalar(sa.select(Partner.id).where(Partner.code == code)))


def plain(response) -> str:
    """The page's text without tags or runs of spaces, as a reader meets it."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(response)))


def test_rules_are_listed_by_category_in_evaluation_order_in_words(client, admin):
    page = plain(client.get("/console/routing-rules"))
    assert "Routing rules" in page
    fly = page[page.index("Fly-tipping:") :]
    # The answer rule first (it beats any other), then the councils' local authorities.
    assert fly.index("How much waste is there?: Large (a lorry load or more)") < fly.index(
        "All of Middlesbrough"
    )
    assert "Environment Agency" in fly
    assert "E06000002" not in page  # areas in words, not GSS codes


def test_an_admin_adds_a_ward_rule_and_the_tester_shows_it_chosen(app, client, admin):
    form_page = text_of(client.get(NEW + "?category=fly_tipping"))
    assert 'value="size:large"' in form_page and "Large (a lorry load or more)" in form_page
    housing = partner_id(app, "thirteen-housing")
    response = submit(
        client,
        NEW + "?category=fly_tipping",
        "/console/routing-rules",
        {
            "category": "fly_tipping",
            "area": "ward:E05001482",
            "answer": "size:small",
            "partner": housing,
            "active": "yes",
        },
    )
    assert response.status_code == 303, text_of(response)
    assert "Added the rule" in text_of(client.get(response.headers["Location"]))

    answer = plain(
        client.get(
            TEST,
            query_string={
                "category": "fly_tipping",
                "find": "yes",
                "lat": ACKLAM["lat"],
                "lon": ACKLAM["lon"],
                "a-size": "small",
            },
        )
    )
    assert "Goes to Thirteen" in answer
    assert "Acklam ward (Middlesbrough)" in answer
    assert "Chosen" in answer and "Fits, but a rule above outweighs it" in answer

    # The same report, made by a resident, goes where the tester said.
    resident = bearer(register_device(client)["access_token"])
    made = client.post(
        "/v1/reports",
        json={
            "category": "fly_tipping",
            "description": "Two bags of rubbish.",
            "location": ACKLAM,
            "answers": {"size": "small"},
        },
        headers=resident,
    )
    assert made.status_code == 201, made.get_json()
    with app.app_context():
        report = db.session.get(Report, uuid.UUID(made.get_json()["id"]))
        assert report.destination_name.startswith("Thirteen")


def test_the_tester_says_when_no_rule_fits_and_what_then(app, client, admin):
    with app.app_context():
        for rule in db.session.scalars(
            sa.select(RoutingRule).where(RoutingRule.category_code == "graffiti")
        ):
            rule.active = False
        db.session.commit()
    answer = plain(client.get(TEST, query_string={"category": "graffiti", "find": "yes"}))
    assert "No rule fits" in answer and "OPCC staff" in answer and "unrouted" in answer


def test_the_tester_refuses_a_point_outside_the_area_keeping_the_input(client, admin):
    response = client.get(
        TEST, query_string={"category": "fly_tipping", "find": "yes", "lat": "51.5", "lon": "-0.1"}
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "outside the Cleveland police force area" in page and 'value="51.5"' in page


def test_a_refused_rule_comes_back_with_its_input_and_the_reason(app, client, admin):
    response = submit(
        client,
        NEW + "?category=fly_tipping",
        "/console/routing-rules",
        {"category": "fly_tipping", "area": "any", "answer": "size:enormous", "partner": ""},
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "The rule was not saved" in page and 'href="#partner"' in page
    assert '<option value="any" selected>' in page


def test_an_admin_changes_and_stops_a_rule(app, client, admin):
    with app.app_context():
        rule = db.session.scalar(sa.select(RoutingRule).where(RoutingRule.answer_code == "size"))
        rule_id = str(rule.id)
    url = f"/console/routing-rules/{rule_id}"
    page = text_of(client.get(url))
    assert '<option value="size:large" selected>' in page
    council = partner_id(app, "middlesbrough-council")
    response = submit(
        client,
        url,
        url,
        {
            "category": "fly_tipping",
            "area": f"local_authority:{MIDDLESBROUGH}",
            "answer": "",
            "partner": council,
            "active": "yes",
        },
    )
    assert response.status_code == 303, text_of(response)
    with app.app_context():
        changed = db.session.get(RoutingRule, rule.id)
        assert (changed.area_code, changed.answer_code) == (MIDDLESBROUGH, None)

    response = submit(client, url, f"{url}/deactivate", {})
    assert response.status_code == 303
    listing = plain(client.get("/console/routing-rules"))
    assert "Stopped" in listing and "Use again" in listing


def fly_tipping_form(client, **changes) -> dict:
    """The fly-tipping edit form filled in as it stands (from what the app sees), with
    ``changes``."""
    category = next(
        c for c in client.get("/v1/categories").get_json() if c["code"] == "fly_tipping"
    )
    form = {
        "name": category["name"],
        "description": category.get("description") or "",
        "group": category["group"],
        "default_destination": "council",
        "keywords": ", ".join(category["keywords"]),
        "location_required": "yes",
    }
    for slot, question in enumerate(category["questions"]):
        form[f"q-{slot}-code"] = question["code"]
        form[f"q-{slot}-description"] = question["description"]
        form[f"q-{slot}-datatype"] = question["datatype"]
        form[f"q-{slot}-required"] = "yes" if question["required"] else ""
        form[f"q-{slot}-values"] = "\n".join(
            f"{value['key']} = {value['name']}" for value in question.get("values") or []
        )
    form.update(changes)
    return form


def test_dropping_a_choice_a_rule_matches_warns_naming_the_rule_until_confirmed(app, client, admin):
    url = "/console/categories/fly_tipping"
    form = fly_tipping_form(client, **{"q-0-values": "small = Small (up to a car boot load)"})
    assert form["q-0-code"] == "size"
    response = submit(client, url, url, form)
    assert response.status_code == 409
    page = plain(response)
    assert "Not saved yet" in page and "Environment Agency" in page
    assert "“How much waste is there?” is answered “Large (a lorry load or more)”" in page
    assert "that answer would no longer be a choice" in page
    assert "Save anyway" in page
    categories = client.get("/v1/categories").get_json()
    size = next(c for c in categories if c["code"] == "fly_tipping")["questions"][0]
    assert [v["key"] for v in size["values"]] == ["small", "large"]  # nothing saved

    response = submit(client, url, url, {**form, "confirm_rules": "yes"})
    assert response.status_code == 303, text_of(response)
    listing = plain(client.get(response.headers["Location"]))
    assert "Warning: the rule sending Fly-tipping reports anywhere to Environment Agency" in listing


def test_a_change_that_keeps_every_rule_matching_saves_without_a_warning(app, client, admin):
    url = "/console/categories/fly_tipping"
    form = fly_tipping_form(client, **{"q-0-description": "How much rubbish?"})
    response = submit(client, url, url, form)
    assert response.status_code == 303, text_of(response)
    assert "Warning" not in plain(client.get(response.headers["Location"]))
