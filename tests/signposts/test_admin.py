"""Admins manage the signposts: add, change, reorder, deactivate, every change in the audit log."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copa.audit.models import AuditEvent
from copa.db import db
from copa.signposts.models import Signpost
from copa.signposts.seed import SEED_SIGNPOSTS
from tests.factories import bearer, signed_in, table_counts
from tests.signposts.support import (
    ADMIN,
    HARTLEPOOL,
    PROBLEM_JSON,
    click,
    create,
    listed,
    new_signpost,
    rollup_total,
)


def audit(app, action: str, target: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        statement = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.at)
        if target is not None:
            statement = statement.where(AuditEvent.target_id == uuid.UUID(target))
        return list(db.session.scalars(statement))


def refused(response, field: str, status: int = 422) -> dict:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert any(key == field or key.startswith(f"{field}.") for key in body["errors"]), body
    return body


def test_an_admin_adds_a_signpost_offered_last_and_audited(app, client, admin):
    body = new_signpost(
        local_authority_code=HARTLEPOOL,
        category_codes=["graffiti", "fly_tipping", "graffiti"],
        feedback_kinds=["suggestion"],
        translations={"cy": {"title": "Gwarchod y gymdogaeth"}},
    )
    response = client.post(ADMIN, json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert response.headers["Location"].endswith(f"{ADMIN}/{made['id']}")
    assert made["code"] == body["code"] and made["url"] == body["url"]
    assert made["active"] is True
    assert made["local_authority_code"] == HARTLEPOOL
    assert made["category_codes"] == ["graffiti", "fly_tipping"]  # once each, in order
    assert made["translations"] == {"cy": {"title": "Gwarchod y gymdogaeth", "description": ""}}
    assert made["sort_order"] == len(SEED_SIGNPOSTS) + 1
    assert client.get(response.headers["Location"], headers=admin).get_json() == made
    assert listed(client)[-1] == made["code"]

    (event,) = audit(app, "signpost.create", made["id"])
    assert event.target_kind == "signpost" and "admin" in event.actor_roles
    assert event.after["url"] == body["url"] and event.after["title"] == body["title"]
    assert event.before is None


BAD_URLS = [
    "http://www.example.org/",
    "https://192.0.2.10/report",
    "https://[2001:db8::1]/",
    "https://localhost/report",
    "https://user:pw@www.example.org/",
    "https://www.example.org/a page",
    "javascript:alert(document.cookie)",
    "https://www.example.org/" + "a" * 2048,
    "",
    "ftp://www.example.org/",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_url_that_is_not_public_https_is_refused_naming_url(app, client, admin, url):
    before = table_counts(app, Signpost, AuditEvent)
    refused(client.post(ADMIN, json=new_signpost(url=url), headers=admin), "url")
    assert table_counts(app, Signpost, AuditEvent) == before


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    url=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, rest: scheme + rest,
            st.sampled_from(["http://", "https:/", "https:", "//", "javascript:", "http:\\\\"]),
            st.text(max_size=40),
        ),
    )
)
def test_anything_not_starting_with_https_is_refused(app, client, admin, url):
    if url[:8].lower() == "https://":
        return
    refused(client.post(ADMIN, json=new_signpost(url=url), headers=admin), "url")


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"local_authority_code": "E06999999"}, "local_authority_code"),
        ({"category_codes": ["fly_tipping", "parking_fines"]}, "category_codes"),
        ({"feedback_kinds": ["complaint"]}, "feedback_kinds"),
        ({"topic": "parking"}, "topic"),
        ({"destination_kind": "company"}, "destination_kind"),
        ({"code": "Not A Slug"}, "code"),
        ({"code": "trailing-"}, "code"),
        ({"translations": {"english": {"title": "x"}}}, "translations"),
        ({"translations": {"en": {"title": "x"}}}, "translations"),
        ({"translations": {"cy": {"description": "no title"}}}, "translations"),
        ({"sort_order": -1}, "sort_order"),
        ({"title": ""}, "title"),
        ({"active": "yes"}, "active"),
        ({"tracking_pixel": "https://www.example.org/p.gif"}, "tracking_pixel"),
    ],
)
def test_an_invalid_setting_is_refused_naming_it(app, client, admin, changes, field):
    before = table_counts(app, Signpost, AuditEvent)
    refused(client.post(ADMIN, json=new_signpost(**changes), headers=admin), field)
    assert table_counts(app, Signpost, AuditEvent) == before


def test_a_code_already_taken_is_a_conflict(app, client, admin):
    response = client.post(ADMIN, json=new_signpost(code="crimestoppers"), headers=admin)
    assert response.status_code == 409
    assert response.mimetype == PROBLEM_JSON
    assert "code" in response.get_json()["errors"]


def test_a_change_is_made_and_audited_with_before_and_after(app, client, admin):
    made = create(client, admin)
    changes = {"title": "Join Neighbourhood Watch", "url": "https://www.ourwatch.org.uk/join"}
    response = client.patch(f"{ADMIN}/{made['id']}", json=changes, headers=admin)
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert (changed["title"], changed["url"]) == (changes["title"], changes["url"])
    assert changed["description"] == made["description"]  # only what was sent changes

    (event,) = audit(app, "signpost.update", made["id"])
    assert event.before == {"title": made["title"], "url": made["url"]}
    assert event.after == changes


def test_a_change_is_validated_like_a_new_signpost(app, client, admin):
    made = create(client, admin)
    url = f"{ADMIN}/{made['id']}"
    refused(client.patch(url, json={"url": "http://www.example.org/"}, headers=admin), "url")
    refused(
        client.patch(url, json={"local_authority_code": "X"}, headers=admin), "local_authority_code"
    )
    refused(client.patch(url, json={"category_codes": ["nope"]}, headers=admin), "category_codes")
    refused(client.patch(url, json={"code": "another-code"}, headers=admin), "code")
    assert audit(app, "signpost.update", made["id"]) == []
    assert client.get(url, headers=admin).get_json() == made


def test_a_signpost_may_be_made_one_for_everywhere_again(app, client, admin):
    made = create(client, admin, local_authority_code=HARTLEPOOL)
    response = client.patch(
        f"{ADMIN}/{made['id']}", json={"local_authority_code": None}, headers=admin
    )
    assert response.status_code == 200 and response.get_json()["local_authority_code"] is None


def test_an_unknown_signpost_is_not_found(client, admin):
    missing = f"{ADMIN}/{uuid.uuid4()}"
    assert client.get(missing, headers=admin).status_code == 404
    assert client.patch(missing, json={"title": "x"}, headers=admin).status_code == 404
    assert client.delete(missing, headers=admin).status_code == 404


def test_deactivating_stops_offering_it_and_keeps_its_counts(app, client, admin):
    made = create(client, admin, category_codes=["fly_tipping"])
    assert click(client, made["id"]).status_code == 201
    assert client.get(f"/go/{made['code']}").status_code == 302

    assert client.delete(f"{ADMIN}/{made['id']}", headers=admin).status_code == 204

    assert made["code"] not in listed(client)
    assert client.get(f"/go/{made['code']}").status_code == 404
    assert rollup_total(app, made["id"]) == 2
    shown = client.get(f"{ADMIN}/{made['id']}", headers=admin).get_json()
    assert shown["active"] is False
    inactive = client.get(ADMIN, query_string={"active": "false"}, headers=admin).get_json()
    assert [s["code"] for s in inactive["items"]] == [made["code"]]
    (event,) = audit(app, "signpost.deactivate", made["id"])
    assert (event.before, event.after) == ({"active": True}, {"active": False})
    # And back again.
    again = client.patch(f"{ADMIN}/{made['id']}", json={"active": True}, headers=admin)
    assert again.status_code == 200 and made["code"] in listed(client)


def test_reordering_puts_the_listed_first_and_is_audited(app, client, admin):
    made = create(client, admin)
    careers = next(
        s["id"] for s in client.get("/v1/signposts").get_json() if s["topic"] == "careers"
    )
    response = client.put(f"{ADMIN}/order", json={"ids": [made["id"], careers]}, headers=admin)
    assert response.status_code == 200, response.get_json()
    order = [s["id"] for s in response.get_json()]
    assert order[:2] == [made["id"], careers]
    assert [s["sort_order"] for s in response.get_json()] == list(range(1, len(order) + 1))

    shown = listed(client)
    assert shown[:2] == [made["code"], "cleveland-police-careers"]
    seed_rest = [s["code"] for s in SEED_SIGNPOSTS if s["code"] != "cleveland-police-careers"]
    assert shown[2:] == seed_rest  # the rest keep their order after them
    (event,) = audit(app, "signpost.reorder")
    assert event.after["order"] == order
    assert event.before["order"][-1] == made["id"]


def test_a_reorder_naming_a_signpost_twice_or_one_that_does_not_exist_is_refused(
    app, client, admin
):
    made = create(client, admin)
    before = listed(client)
    twice = client.put(f"{ADMIN}/order", json={"ids": [made["id"]] * 2}, headers=admin)
    refused(twice, "ids")
    unknown = client.put(f"{ADMIN}/order", json={"ids": [str(uuid.uuid4())]}, headers=admin)
    refused(unknown, "ids")
    refused(client.put(f"{ADMIN}/order", json={"ids": []}, headers=admin), "ids")
    assert listed(client) == before and audit(app, "signpost.reorder") == []


def test_the_admin_list_has_every_signpost_in_pages(client, admin):
    first = client.get(ADMIN, query_string={"page_size": 5}, headers=admin).get_json()
    assert first["total"] == len(SEED_SIGNPOSTS) and len(first["items"]) == 5
    assert [s["code"] for s in first["items"]] == [s["code"] for s in SEED_SIGNPOSTS[:5]]
    careers = client.get(ADMIN, query_string={"topic": "careers"}, headers=admin).get_json()
    assert [s["code"] for s in careers["items"]] == ["cleveland-police-careers"]


@pytest.mark.parametrize("role", ["reviewer", "analyst", "resident"])
def test_only_admins_manage_signposts(app, client, cleveland, role):
    headers = bearer(signed_in(app, client, role)["access_token"])
    before = table_counts(app, Signpost, AuditEvent)
    response = client.post(ADMIN, json=new_signpost(), headers=headers)
    assert response.status_code == 403 and response.mimetype == PROBLEM_JSON
    assert client.get(ADMIN, headers=headers).status_code == 403
    assert table_counts(app, Signpost, AuditEvent) == before


def test_a_click_keeps_the_topic_it_was_counted_under(app, client, admin):
    made = create(client, admin, topic="crime_prevention", destination_kind="charity")
    assert click(client, made["id"]).status_code == 201
    changed = client.patch(
        f"{ADMIN}/{made['id']}",
        json={"topic": "victim_support", "destination_kind": "partner"},
        headers=admin,
    )
    assert changed.status_code == 200
    assert click(client, made["id"]).status_code == 201
    assert client.get(f"/go/{made['code']}").status_code == 302

    assert rollup_total(app, made["id"], topic="crime_prevention", destination_kind="charity") == 1
    assert rollup_total(app, made["id"], topic="victim_support", destination_kind="partner") == 2
    with app.app_context():
        from copa.metrics.reconcile import reconcile

        assert reconcile().mismatches == []
