"""Test data builders (factory-boy) and sign-in helpers."""

from __future__ import annotations

from contextlib import contextmanager

import factory
from factory.alchemy import SQLAlchemyModelFactory

from copa.auth.models import User
from copa.auth.service import _hasher_for
from copa.db import db
from copa.routing.models import Partner
from tests.conftest import TEST_SETTINGS

PASSWORD = "correct horse battery staple"
# Hashed with the suite's cheap argon2 cost, so a sign-in neither pays for nor rehashes it.
_PASSWORD_HASH = _hasher_for(
    TEST_SETTINGS["PASSWORD_HASH_TIME_COST"],
    TEST_SETTINGS["PASSWORD_HASH_MEMORY_KIB"],
    TEST_SETTINGS["PASSWORD_HASH_PARALLELISM"],
).hash(PASSWORD)


class _Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class PartnerFactory(_Factory):
    class Meta:
        model = Partner

    code = factory.Sequence(lambda n: f"partner-{n}")
    name = factory.Sequence(lambda n: f"Partner organisation {n}")
    kind = "council"


class UserFactory(_Factory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@copa.example")
    display_name = factory.Sequence(lambda n: f"User {n}")
    password_hash = _PASSWORD_HASH
    roles = factory.LazyFunction(lambda: ["reviewer"])
    active = True

    class Params:
        partner_user = factory.Trait(roles=["partner"], partner=factory.SubFactory(PartnerFactory))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_device(client) -> dict:
    """A resident's app install, signed in: the JSON of POST /v1/auth/devices."""
    response = client.post("/v1/auth/devices", json={"platform": "android", "app_version": "1.0.0"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def login(client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def user_with_role(app, role: str, **kwargs) -> User:
    with app.app_context():
        if role == "partner":
            return UserFactory(partner_user=True, **kwargs)
        return UserFactory(roles=[role], **kwargs)


def signed_in(app, client, role: str) -> dict:
    """Tokens for a new user of that role (or a new device for 'resident')."""
    if role == "resident":
        return register_device(client)
    user = user_with_role(app, role)
    return login(client, user.email)


def load_reference_data(app) -> None:
    """The Cleveland areas, the seed categories, the demo partners and their routing rules.

    Inside the test's transaction, like any other test data (the suite has no demo data).
    """
    from copa.areas.service import import_bundled
    from copa.catalog.service import ensure_seed_categories
    from copa.demo import ensure_partners, ensure_routing_rules

    with app.app_context():
        import_bundled()
        ensure_seed_categories()
        partners, _ = ensure_partners()
        ensure_routing_rules(partners)
        db.session.commit()


def table_counts(app, *models) -> dict[str, int]:
    """How many rows each model's table holds (to prove a refused request stored nothing)."""
    import sqlalchemy as sa

    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in models
        }


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def scratch_database(tmp_path, prefix: str):
    """A database of its own, for tests whose data other processes must see committed.

    A SQLite file, or on PostgreSQL (COPA_TEST_DATABASE_URL) a throwaway database that is
    dropped afterwards; yields its URL.
    """
    import os
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import sqlalchemy as sa

    test_url = os.environ.get("COPA_TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / f'{prefix}.db'}"
        return
    name = f"copa_{prefix}_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(test_url)
    admin = sa.create_engine(
        urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def user_tokens(app, user: User) -> tuple[dict[str, str], dict[str, str]]:
    """Bearer headers with a user's access token and with their refresh token, as a login would
    give them, without the argon2 check (slow on purpose): for tests with many signed-in users."""
    import uuid

    from copa.auth.service import _issue, _user_principal

    with app.app_context():
        principal = _user_principal(db.session.get(User, user.id), uuid.uuid4())
        pair = _issue(principal, new_session=True)
        db.session.commit()
        return bearer(pair.access_token), bearer(pair.refresh_token)


@contextmanager
def gunicorn_serving(env: dict[str, str], output_path, *, workers: int = 1):
    """gunicorn as ``make serve`` runs it (gunicorn.conf.py, threads, access log on stdout) on a
    free loopback port; yields the port once /healthz answers. Its stdout and stderr (the access
    and error logs) go to ``output_path``; it is stopped afterwards."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    root = Path(__file__).resolve().parent.parent
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind"]
    command += [f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4"]
    command += ["--access-logfile", "-", "--no-control-socket", "wsgi:app"]
    with open(output_path, "wb") as output:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("gunicorn did not start: " + Path(output_path).read_text())
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
