"""The console's partner pages: an admin adds a webhook partner and sees its signing secret
once, never again; a refused endpoint comes back on the form with the input kept; a partner
is changed, its secret rotated (shown once) and it is deactivated."""

from __future__ import annotations

import ipaddress
import re

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.outbox import ssrf
from copa.routing.models import Partner
from tests.console.test_operations import sign_in, submit, text_of
from tests.factories import load_reference_data

NEW = "/console/partners/new"
HOSTS = {"hooks.thirteen.example": ["93.184.215.14"], "intranet.thirteen.example": ["10.0.0.5"]}


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host not in HOSTS:
        raise OSError("name does not resolve (stub)")
    return HOSTS[host]


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    monkeypatch.setattr(ssrf, "resolve", _resolve)


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    sign_in(client, app, "admin")


def webhook_form(**overrides) -> dict:
    form = {
        "code": "thirteen-hooks",
        "name": "Thirteen Housing (webhook)",
        "kind": "housing_provider",
        "local_authority_code": "",
        "channel": "webhook",
        "endpoint_url": "https://hooks.thirteen.example/copa",
        "webhook_secret": "",
        "open311_api_key": "",
        "open311_jurisdiction_id": "",
        "open311_service_codes": "",
        "email_address": "",
    }
    form.update(overrides)
    return form


def secrets_of(page: str) -> list[str]:
    return re.findall(r"whsec_[A-Za-z0-9+/=]+", page)


def partner_row(app, code: str) -> Partner:
    with app.app_context():
        return db.session.scalar(sa.select(Partner).where(Partner.code == code))


def test_a_new_webhook_partners_secret_is_shown_once_and_never_again(app, client, admin):
    response = submit(client, NEW, "/console/partners", webhook_form())
    assert response.status_code == 201, text_of(response)
    page = text_of(response)
    assert "shown this once, never again" in page
    shown = secrets_of(page)
    partner = partner_row(app, "thirteen-hooks")
    assert shown == [partner.webhook_secrets[0]]
    assert response.headers["Cache-Control"] == "no-store"

    later = text_of(client.get(f"/console/partners/{partner.id}"))
    assert secrets_of(later) == [] and "1 held" in later
    assert secrets_of(text_of(client.get("/console/partners"))) == []
    assert "Thirteen Housing (webhook)" in text_of(client.get("/console/partners"))


def test_a_private_endpoint_is_refused_on_the_form_with_the_input_kept(app, client, admin):
    form = webhook_form(endpoint_url="https://intranet.thirteen.example/copa")
    response = submit(client, NEW, "/console/partners", form)
    assert response.status_code == 422
    page = text_of(response)
    assert "The partner was not saved" in page
    assert '<a href="#endpoint_url">Endpoint URL</a>' in page and "10.0.0.5" in page
    assert 'value="https://intranet.thirteen.example/copa"' in page
    assert 'value="Thirteen Housing (webhook)"' in page
    assert partner_row(app, "thirteen-hooks") is None

    response = submit(client, NEW, "/console/partners", webhook_form(channel="email"))
    assert response.status_code == 422
    assert '<a href="#email_address">Email address</a>' in text_of(response)


def test_a_rotated_secret_is_shown_once_and_the_partner_deactivated(app, client, admin):
    created = submit(client, NEW, "/console/partners", webhook_form())
    first = secrets_of(text_of(created))[0]
    partner = partner_row(app, "thirteen-hooks")
    url = f"/console/partners/{partner.id}"

    renamed = submit(client, url, url, webhook_form(name="Thirteen", endpoint_url=""))
    assert renamed.status_code == 303, text_of(renamed)
    assert secrets_of(text_of(client.get(url))) == []

    rotated = submit(client, url, url, webhook_form(name="Thirteen", rotate_webhook_secret="yes"))
    assert rotated.status_code == 200, text_of(rotated)
    shown = secrets_of(text_of(rotated))
    assert len(shown) == 1 and shown[0] != first
    assert partner_row(app, "thirteen-hooks").webhook_secrets == [first, shown[0]]
    assert "2 held" in text_of(client.get(url)) and secrets_of(text_of(client.get(url))) == []

    response = submit(client, url, f"{url}/deactivate", {})
    assert response.status_code == 303
    assert "Inactive" in text_of(client.get(url))
    assert partner_row(app, "thirteen-hooks").active is False


def test_an_open311_partner_keeps_its_api_key_unseen(app, client, admin):
    form = webhook_form(
        channel="open311",
        open311_api_key="key-123-secret",
        open311_service_codes="fly_tipping = FT01",
    )
    response = submit(client, NEW, "/console/partners", form)
    assert response.status_code == 201, text_of(response)
    partner = partner_row(app, "thirteen-hooks")
    assert partner.open311_service_codes == {"fly_tipping": "FT01"}
    page = text_of(client.get(f"/console/partners/{partner.id}"))
    assert "key-123-secret" not in page and "Set (not shown)" in page
    assert "fly_tipping = FT01" in page
