"""No log line holds a credential or a resident's personal details: not the application's own
logs (its copa loggers at DEBUG) through the real flows, and not gunicorn's access and error
logs, which write each request line with its query string."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import requests

from tests.factories import (
    UserFactory,
    bearer,
    gunicorn_serving,
    load_reference_data,
    scratch_database,
    user_tokens,
)
from tests.open311.conftest import JURISDICTION, make_client
from tests.outbox.support import use_fast_relay

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://copa.example.org"
MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
# Personal details a resident gives: none may reach a log.
NAME = "Philippa Quennell-Smythe"
EMAIL = "philippa.quennell@example.org"
PHONE = "+447700900123"
DESCRIPTION = "Quennell's neighbour at number 14 deals from the blue Astra every night"
OPEN311_DESCRIPTION = "Sofa and fridge dumped by Barrowcliffe's van behind the chip shop"
PUSH_TOKEN = "fcm-registration-token-" + uuid.uuid4().hex


@pytest.fixture
def logs(caplog):
    """Everything the copa loggers (and any other) write, from DEBUG up."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="copa")
    return caplog


def relay(app) -> None:
    from copa.relay.service import run_relay

    with app.app_context():
        run_relay(once=True, owner="redaction-relay")


def test_the_real_flows_log_no_credential_or_personal_detail(
    app, client, monkeypatch, tmp_path, logs
):
    load_reference_data(app)
    use_fast_relay(monkeypatch, app, MAIL_DIR=str(tmp_path / "mail"), SMTP_URL=None)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", BASE_URL)
    secrets: list[str] = []

    # A resident's install registers, refreshes its tokens and registers a push token.
    device = client.post("/v1/auth/devices", json={"platform": "android", "app_version": "1.0"})
    assert device.status_code == 201
    tokens = device.get_json()
    refreshed = client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    resident = bearer(refreshed.get_json()["access_token"])
    secrets += [tokens["access_token"], tokens["refresh_token"], tokens["device_secret"]]
    secrets += [refreshed.get_json()["access_token"], refreshed.get_json()["refresh_token"]]
    pushed = client.put(
        "/v1/me/push-token", json={"platform": "android", "token": PUSH_TOKEN}, headers=resident
    )
    assert pushed.status_code == 200
    # A stale refresh token used again: refused, and its whole family revoked.
    reused = client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert reused.status_code == 401

    # A report with contact details, asking for email updates.
    report = client.post(
        "/v1/reports",
        json={
            "category": "drugs",
            "description": DESCRIPTION,
            "location": MIDDLESBROUGH,
            "contact": {"name": NAME, "email": EMAIL, "phone": PHONE, "notify_by_email": True},
        },
        headers=bearer(
            client.post("/v1/auth/devices", json={"platform": "ios"}).get_json()["access_token"]
        ),
    )
    assert report.status_code == 201, report.get_json()

    # The relay emails it; the email's unsubscribe link; a later update is queued, the link
    # is clicked, and the relay cancels the queued email.
    relay(app)
    (eml,) = (tmp_path / "mail").glob("*.eml")
    link = message_from_bytes(eml.read_bytes(), policy=policy.default)["List-Unsubscribe"]
    link = link.strip("<>")
    unsubscribe_token = link.rsplit("/", 1)[1]
    secrets.append(unsubscribe_token)
    with app.app_context():
        reviewer = UserFactory(roles=["reviewer"])
    staff = user_tokens(app, reviewer)[0]
    moved = client.post(
        f"/v1/staff/reports/{report.get_json()['id']}/transitions",
        json={"to": "in_progress", "public_note": "An officer will visit."},
        headers=staff,
    )
    assert moved.status_code == 200, moved.get_json()
    assert client.get(link.removeprefix(BASE_URL)).status_code == 200
    clicked = client.post(
        link.removeprefix(BASE_URL),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert clicked.get_json()["unsubscribed"] is True
    relay(app)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1  # the queued one was cancelled

    # Open311: a POST with the api_key in the form body, reads with it in the query string.
    open311 = make_client(app)
    secrets.append(open311.api_key)
    form = {
        "api_key": open311.api_key,
        "jurisdiction_id": JURISDICTION,
        "service_code": "fly_tipping",
        "lat": "54.576200",
        "long": "-1.234800",
        "description": OPEN311_DESCRIPTION,
        "email": "barrow@example.net",
        "first_name": "Barnaby",
        "last_name": "Quennell-Smythe",
        "phone": "+447700900456",
        "attribute[size]": "small",
    }
    created = client.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 201, created.get_data(as_text=True)
    request_id = created.get_json()[0]["service_request_id"]
    read = client.get(
        f"/open311/v2/requests/{request_id}.json",
        query_string={"api_key": open311.api_key, "jurisdiction_id": JURISDICTION},
    )
    assert read.status_code == 200
    assert read.get_json()[0]["description"] == OPEN311_DESCRIPTION
    listed = client.get(
        "/open311/v2/requests.json",
        query_string={"api_key": open311.api_key, "jurisdiction_id": JURISDICTION},
    )
    assert [r["service_request_id"] for r in listed.get_json()] == [request_id]
    refused = client.get("/open311/v2/requests.json", query_string={"api_key": "wrong-key"})
    assert refused.status_code == 403

    written = logs.text + "\n".join(str(r.exc_text or "") for r in logs.records)
    assert "redaction-relay" in written  # the relay did log: the check below is not vacuous
    personal = [NAME, EMAIL, PHONE, DESCRIPTION, OPEN311_DESCRIPTION, PUSH_TOKEN]
    personal += ["barrow@example.net", "Barnaby", "+447700900456", "Quennell"]
    for value in secrets + personal:
        assert value not in written


def _migrated(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.slow
def test_gunicorn_logs_show_api_keys_and_tokens_redacted(tmp_path):
    api_key = "o311_" + uuid.uuid4().hex
    unsubscribe_token = "unsub" + uuid.uuid4().hex
    access_token = "eyJ" + uuid.uuid4().hex
    with scratch_database(tmp_path, "redaction") as url:
        env = {
            **os.environ,
            "COPA_ENV": "production",
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_DATABASE_URL": url,
            "COPA_LOG_LEVEL": "DEBUG",
        }
        _migrated(env)
        output = tmp_path / "gunicorn.log"
        with gunicorn_serving(env, output) as port:
            base = f"http://127.0.0.1:{port}"
            # Reads take the api_key in the query string (GeoReport v2).
            read = requests.get(
                f"{base}/open311/v2/requests.json",
                params={"api_key": api_key, "jurisdiction_id": JURISDICTION},
                timeout=10,
            )
            assert read.status_code == 403  # an unknown key, in Open311's shape
            assert read.json()[0]["code"] == 403
            posted = requests.post(
                f"{base}/open311/v2/requests.xml", data={"api_key": api_key}, timeout=10
            )
            assert posted.status_code == 403
            unsubscribe = requests.get(f"{base}/v1/unsubscribe/{unsubscribe_token}", timeout=10)
            assert unsubscribe.status_code == 404
            other = requests.get(
                f"{base}/healthz",
                params={"token": unsubscribe_token, "access_token": access_token},
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Referer": f"{base}/v1/unsubscribe/{unsubscribe_token}?api_key={api_key}",
                },
                timeout=10,
            )
            assert other.status_code == 200
            # A request line gunicorn cannot parse is quoted in its error log.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(f"GET /healthz?api_key={api_key} HTTP/1.1 x\r\n\r\n".encode())
                assert sock.recv(4096).startswith(b"HTTP/1.1 400")
            assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    written = output.read_text()

    assert "GET /open311/v2/requests.json?api_key=[redacted]&jurisdiction_id=" in written
    assert "GET /v1/unsubscribe/[redacted] HTTP/1.1" in written
    assert "token=[redacted]&access_token=[redacted]" in written
    for secret in (api_key, unsubscribe_token, access_token):
        assert secret not in written


def test_a_logged_database_error_does_not_show_the_values_it_was_given(app):
    """A database error logged with its traceback (as the 500 handler and the relay do) shows
    the statement, never the resident's details bound to it or quoted back by the database."""
    import io

    import sqlalchemy as sa

    from copa.db import db
    from copa.web import redaction

    written = io.StringIO()
    logger = logging.getLogger("copa.tests.database_error")
    logger.addHandler(logging.StreamHandler(written))
    redaction.install(logger)  # what create_app does to the application's log handlers
    try:
        with app.app_context():
            try:
                db.session.execute(
                    sa.text("INSERT INTO contact (id, email, phone) VALUES (:id, :email, :phone)"),
                    {"id": None, "email": EMAIL, "phone": PHONE},
                )
            except sa.exc.DBAPIError:
                logger.exception("unhandled error on POST /v1/reports")
            db.session.rollback()
    finally:
        logger.handlers.clear()
        logger.filters.clear()
    assert "INSERT INTO contact" in written.getvalue()
    assert EMAIL not in written.getvalue()
    assert PHONE not in written.getvalue()


@pytest.mark.slow
def test_the_development_server_logs_request_lines_without_the_api_key(tmp_path):
    """`flask run` (werkzeug) logs each request line too: the api_key in it is redacted."""
    import time

    from tests.factories import free_port

    api_key = "o311_" + uuid.uuid4().hex
    port = free_port()
    env = {
        **os.environ,
        "COPA_ENV": "development",
        "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)]
    output = tmp_path / "flask-run.log"
    with open(output, "wb") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/healthz", params={"api_key": api_key}, timeout=1
                )
                break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("flask run did not start: " + output.read_text()) from None
                time.sleep(0.2)
        assert answer.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    written = output.read_text()
    assert "GET /healthz?api_key=[redacted] HTTP/1.1" in written
    assert api_key not in written
