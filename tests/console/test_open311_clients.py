"""The console's Open311 client pages: an admin adds a client and sees its API key once (a
repeat of the form never shows it again, and no stored answer holds it), replaces a key (the old
one stops working), and stops or starts a client."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.open311.models import Open311Client
from copa.web.models import IdempotencyKey
from tests.console.test_operations import csrf_of, sign_in, submit, text_of
from tests.factories import load_reference_data

LIST = "/console/open311-clients"
NEW = "/console/open311-clients/new"
KEY = re.compile(r'id="api_key" value="(copa311_[^"]+)"')


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return sign_in(client, app, "admin")


def services(client, api_key: str | None):
    """An Open311 call that needs a client's key: GET service_requests with it."""
    query = f"?api_key={api_key}" if api_key else ""
    return client.get(f"/open311/v2/requests.json{query}")


def add(client, name: str = "FixMyStreet", **fields):
    form = {"name": name, "jurisdiction_id": "cleveland.police.uk", **fields}
    return submit(client, NEW, LIST, form)


def test_an_admin_adds_a_client_and_sees_its_key_once(app, client, admin):
    assert 'href="/console/open311-clients"' in text_of(client.get(LIST))  # in the navigation
    html = text_of(client.get(NEW))
    form = {
        "csrf_token": csrf_of(html),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', html).group(1),
        "name": "FixMyStreet",
        "jurisdiction_id": "cleveland.police.uk",
        "extended_statuses": "yes",
    }
    first = client.post(LIST, data=form)
    assert first.status_code == 200
    api_key = KEY.search(text_of(first)).group(1)
    assert "it is shown this once" in text_of(first)

    with app.app_context():
        saved = db.session.scalar(sa.select(Open311Client))
        assert saved.extended_statuses is True and saved.api_key_hint == api_key[-4:]
        stored = " ".join(
            row.response_body or "" for row in db.session.scalars(sa.select(IdempotencyKey))
        )
        assert api_key not in stored  # the key is in no stored answer
        assert "cannot be shown" in stored  # what a repeat of the form gets instead

    again = client.post(LIST, data=form)  # the same form twice: a double click
    assert again.status_code == 200
    assert api_key not in text_of(again) and "cannot be shown" in text_of(again)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Open311Client)) == 1

    listing = text_of(client.get(LIST))
    assert "FixMyStreet" in listing and api_key not in listing and api_key[-4:] in listing
    assert services(app.test_client(), api_key).status_code == 200


def test_a_refused_client_keeps_the_input(client, admin):
    response = add(client, name="", extended_statuses="yes")
    html = text_of(response)
    assert response.status_code == 422
    assert 'href="#name"' in html and 'value="cleveland.police.uk"' in html
    assert re.search(r'id="extended_statuses"[^>]*checked', html)


def test_replacing_a_key_shows_the_new_one_once_and_the_old_stops_working(app, client, admin):
    old_key = KEY.search(text_of(add(client))).group(1)
    with app.app_context():
        client_id = db.session.scalar(sa.select(Open311Client.id))
    replaced = submit(client, LIST, f"{LIST}/{client_id}/api-key", {})
    assert replaced.status_code == 200
    new_key = KEY.search(text_of(replaced)).group(1)
    assert new_key != old_key and "The old key no" in text_of(replaced)
    assert services(app.test_client(), old_key).status_code == 403
    assert services(app.test_client(), new_key).status_code == 200
    with app.app_context():
        assert db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "open311_client.replace_key")
        )


def test_a_stopped_client_is_refused_until_started_again(app, client, admin):
    api_key = KEY.search(text_of(add(client))).group(1)
    with app.app_context():
        client_id = db.session.scalar(sa.select(Open311Client.id))
    stopped = submit(client, LIST, f"{LIST}/{client_id}/deactivate", {})
    assert stopped.status_code == 303
    assert "is stopped" in text_of(client.get(LIST)) and "Stopped" in text_of(client.get(LIST))
    assert services(app.test_client(), api_key).status_code == 403
    assert submit(client, LIST, f"{LIST}/{client_id}/reactivate", {}).status_code == 303
    assert services(app.test_client(), api_key).status_code == 200


def test_only_admins_open_the_client_pages(app, client):
    sign_in(client, app, "analyst")
    assert client.get(LIST).status_code == 403
    assert client.get(NEW).status_code == 403
