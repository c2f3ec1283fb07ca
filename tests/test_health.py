"""The probes a load balancer or orchestrator calls: /healthz (process up), /readyz (database)."""

from __future__ import annotations

import pytest

from copa import create_app
from copa.db import db
from tests.conftest import TEST_SETTINGS

# Both unreachable on purpose, and both local: a SQLite file in a folder that does not exist, and
# a PostgreSQL server on loopback port 1, where nothing listens (refused at once; the timeout
# only bounds the worst case).
UNREACHABLE = {
    "sqlite": "sqlite:///{tmp_path}/no-such-folder/copa.db",
    "postgresql": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
}


@pytest.fixture(params=sorted(UNREACHABLE))
def app_without_database(request, tmp_path):
    url = UNREACHABLE[request.param].format(tmp_path=tmp_path)
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_healthz_says_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_says_ok_when_the_database_answers(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_probes_need_no_sign_in_and_set_no_cookie(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)

        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path


def test_readyz_answers_503_problem_with_retry_after_when_the_database_is_unreachable(
    app_without_database,
):
    response = app_without_database.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    problem = response.get_json()
    assert problem["status"] == 503
    assert problem["type"].endswith("database-unreachable")
    assert problem["title"]
    assert problem["detail"]


def test_readyz_does_not_reveal_the_database_address_or_driver_error(app_without_database):
    body = app_without_database.test_client().get("/readyz").get_data(as_text=True)

    for secret in ("nobody", "127.0.0.1", "no-such-folder", "sqlite", "psycopg", "Traceback"):
        assert secret not in body


def test_healthz_stays_ok_while_the_database_is_unreachable(app_without_database):
    """Liveness must not fail with the database, or an outage would restart every process."""
    response = app_without_database.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_recovers_once_the_database_is_reachable(tmp_path):
    folder = tmp_path / "mounted-later"
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{folder}/copa.db"})
    client = app.test_client()
    assert client.get("/readyz").status_code == 503

    folder.mkdir()

    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    with app.app_context():
        db.engine.dispose()
