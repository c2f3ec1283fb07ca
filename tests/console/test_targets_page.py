"""The console's targets page (admins) and the overdue flags of the queue page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from copa.db import utcnow
from copa.targets.service import current_targets
from tests.console.test_operations import sign_in, submit, text_of
from tests.factories import bearer, load_reference_data, register_device
from tests.review import support

PAGE = "/console/targets"
FORM = {
    "report_first_action_hours": "48",
    "complaint_first_contact_hours": "48",
    "referral_acknowledgement_hours": "24",
}


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return sign_in(client, app, "admin")


@pytest.fixture(autouse=True)
def no_repeat_asb_rule(app, monkeypatch):
    monkeypatch.setitem(app.config, "REPEAT_ASB_THRESHOLD", 1000)


def test_the_page_shows_the_targets_in_force_and_is_in_the_navigation(client, admin):
    page = text_of(client.get(PAGE))

    assert f'href="{PAGE}"' in page  # in the navigation
    assert "built-in defaults" in page
    assert 'id="report_first_action_hours" name="report_first_action_hours"' in page
    assert 'value="48"' in page
    assert "Antisocial behaviour" in page and "In force: 48 hours (the default)." in page
    assert "First action on a report" in page and "assignment and internal notes" in page


def test_an_admin_saves_targets_and_a_category_gets_its_own(app, client, admin):
    response = submit(client, PAGE, PAGE, {**FORM, "category-asb": "24", "category-drugs": ""})

    assert response.status_code == 303, text_of(response)
    page = text_of(client.get(response.headers["Location"]))
    assert "Targets saved." in page
    assert "In force: 24 hours." in page  # asb's own
    targets = current_targets()
    assert targets.category_hours == {"asb": 24}
    assert targets.report_hours("drugs") == 48


def test_a_refused_form_keeps_what_was_typed_and_names_the_field(app, client, admin):
    response = submit(
        client, PAGE, PAGE, {**FORM, "complaint_first_contact_hours": "0", "category-asb": "soon"}
    )

    assert response.status_code == 422
    page = text_of(response)
    assert "The targets were not saved" in page
    assert '<a href="#complaint_first_contact_hours">Complaint first contact</a>' in page
    assert '<a href="#category-asb">Antisocial behaviour</a>' in page
    assert 'value="soon"' in page and 'value="0"' in page
    assert 'aria-describedby="category-asb-hint category-asb-error"' in page
    assert current_targets().category_hours == {}


@pytest.mark.parametrize("role", ["reviewer", "resolution", "analyst"])
def test_only_admins_open_the_targets_page(app, client, role):
    load_reference_data(app)
    sign_in(client, app, role)
    assert client.get(PAGE).status_code == 403


def test_the_queue_flags_an_overdue_report_in_words_with_its_london_due_time(app, client, admin):
    resident = bearer(register_device(client)["access_token"])
    late = support.submit(client, resident, description="Bins set alight again.")
    fresh = support.submit(client, resident, description="Shouting every night.")
    created = utcnow() - timedelta(hours=51)
    support.set_report(app, late["id"], created_at=created)

    page = text_of(client.get("/console/queue"))

    assert "Overdue by 3 hours" in page  # 48-hour default, 51 hours ago
    assert "(was due " in page and ("GMT" in page or "BST" in page)
    assert page.count("Overdue by") == 1
    assert page.index(late["reference"]) < page.index(fresh["reference"])
    assert "Due " in page  # the fresh one: due, not overdue


def test_the_queue_sorts_by_due_time(app, client, admin):
    submit(client, PAGE, PAGE, {**FORM, "category-asb": "24"})
    resident = bearer(register_device(client)["access_token"])
    older = support.submit(client, resident, category="graffiti", description="Tags.")
    tighter = support.submit(client, resident, description="Shouting every night.")
    support.set_report(app, older["id"], created_at=utcnow() - timedelta(hours=60))  # 12 h late
    support.set_report(app, tighter["id"], created_at=utcnow() - timedelta(hours=50))  # 26 h

    default = text_of(client.get("/console/queue"))
    by_due = text_of(client.get("/console/queue?sort=due"))

    assert default.index(older["reference"]) < default.index(tighter["reference"])
    assert by_due.index(tighter["reference"]) < by_due.index(older["reference"])
    assert '<option value="due" selected>' in by_due and "most overdue first" in by_due
    assert "Overdue by 1 day 2 hours" in by_due and "Overdue by 12 hours" in by_due
