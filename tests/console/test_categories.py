"""The console's category pages: an admin adds a category with questions, changes it and stops
offering it; residents' apps see each change, and a bad form comes back with its errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from copa.catalog.models import Category
from copa.db import db
from tests.console.test_operations import sign_in, submit, text_of
from tests.factories import load_reference_data

NEW = "/console/categories/new"


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    sign_in(client, app, "admin")


def bins_form(**overrides) -> dict:
    form = {
        "code": "bins_left_out",
        "name": "Bins left out",
        "description": "Wheelie bins left on the pavement.",
        "group": "non_policing",
        "default_destination": "council",
        "keywords": "bins, pavement",
        "location_required": "yes",
        "q-0-code": "how_many",
        "q-0-description": "How many bins?",
        "q-0-datatype": "singlevaluelist",
        "q-0-values": "one = One\nseveral = Several",
        "q-0-required": "yes",
        "q-1-code": "",
        "q-1-description": "",
        "q-1-datatype": "string",
        "q-1-values": "",
    }
    form.update(overrides)
    return form


def offered(client, code: str) -> dict | None:
    return next((c for c in client.get("/v1/categories").get_json() if c["code"] == code), None)


def test_an_admin_adds_a_category_with_a_question_and_the_app_sees_it(app, client, admin):
    etag = client.get("/v1/categories").headers["ETag"]
    assert 'href="/console/categories"' in text_of(client.get("/console/categories"))  # nav
    response = submit(client, NEW, "/console/categories", bins_form())
    assert response.status_code == 303, text_of(response)
    listing = text_of(client.get(response.headers["Location"]))
    assert "Added “Bins left out”" in listing and "bins_left_out" in listing

    assert client.get("/v1/categories", headers={"If-None-Match": etag}).status_code == 200
    category = offered(client, "bins_left_out")
    assert category["keywords"] == ["bins", "pavement"]
    assert category["questions"] == [
        {
            "code": "how_many",
            "datatype": "singlevaluelist",
            "required": True,
            "description": "How many bins?",
            "order": 1,
            "values": [{"key": "one", "name": "One"}, {"key": "several", "name": "Several"}],
        }
    ]


def test_an_admin_rewords_a_question_removes_one_and_stops_offering_it(app, client, admin):
    page = text_of(client.get("/console/categories/fly_tipping"))
    assert 'value="size"' in page  # its question, ready to change
    form = bins_form(code="ignored", name="Fly-tipping", group="non_policing")
    form.update(
        {
            "q-0-code": "size",
            "q-0-description": "How much rubbish is there?",
            "q-0-values": "small = Small\nlarge = Large (a van load)",
            "q-1-code": "extra",
            "q-1-description": "Anything else?",
            "q-1-datatype": "text",
            "q-1-remove": "yes",
        }
    )
    response = submit(
        client, "/console/categories/fly_tipping", "/console/categories/fly_tipping", form
    )
    assert response.status_code == 303, text_of(response)
    category = offered(client, "fly_tipping")
    assert [q["description"] for q in category["questions"]] == ["How much rubbish is there?"]
    assert category["questions"][0]["values"][1] == {"key": "large", "name": "Large (a van load)"}

    response = submit(
        client, "/console/categories", "/console/categories/fly_tipping/deactivate", {}
    )
    assert response.status_code == 303
    assert offered(client, "fly_tipping") is None
    assert "Not offered" in text_of(client.get("/console/categories"))
    submit(client, "/console/categories", "/console/categories/fly_tipping/reactivate", {})
    assert offered(client, "fly_tipping") is not None


def test_a_bad_form_comes_back_with_each_field_in_the_summary(app, client, admin):
    form = bins_form(
        code="Bins!",
        **{
            "q-0-values": "one = One\none = Also one",
            "q-1-code": "how_many",
            "q-1-description": "",
        },
    )
    response = submit(client, NEW, "/console/categories", form)
    assert response.status_code == 422
    page = text_of(response)
    assert 'role="alert"' in page
    assert '<a href="#code">Category code</a>' in page
    assert 'id="code" name="code"' in page and 'aria-invalid="true"' in page
    assert "Bins!" in page  # what was typed is kept
    with app.app_context():
        assert db.session.scalar(sa.select(Category).where(Category.code == "Bins!")) is None

    # the code fixed: each question's own problem points at its field
    response = submit(client, NEW, "/console/categories", {**form, "code": "bins"})
    page = text_of(response)
    assert response.status_code == 422
    assert '<a href="#q-0-values">Question 1, choices</a>' in page
    assert '<a href="#q-1-description">Question 2, question</a>' in page
    assert offered(client, "bins") is None


def test_a_taken_code_is_shown_on_the_code_field(app, client, admin):
    response = submit(client, NEW, "/console/categories", bins_form(code="graffiti"))
    assert response.status_code == 422
    assert '<a href="#code">Category code</a>: Already taken.' in text_of(response)


@pytest.mark.parametrize("role", ["reviewer", "resolution", "analyst"])
def test_only_admins_open_the_category_pages(app, client, role):
    load_reference_data(app)
    sign_in(client, app, role)
    assert client.get("/console/categories").status_code == 403
    assert client.get(NEW).status_code == 403
    assert 'href="/console/categories"' not in text_of(
        client.get("/console/", follow_redirects=True)
    )
