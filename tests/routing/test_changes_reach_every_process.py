"""A change to reference data is used by every server process on its next request: two gunicorn
servers on one database, each keeping categories, routing rules, partners and signposts in a
per-process cache (copa/refcache.py). A rule, partner or signpost is changed through one
server's admin API, a category by a third process's session, and reports sent through the
other server show each change at once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from copa import create_app
from copa.catalog.models import Category
from copa.db import db, write
from tests.conftest import TEST_SETTINGS
from tests.factories import gunicorn_serving, scratch_database

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "processes-test-password"
MIDDLEHAVEN = "E05001497"  # the ward of the point below, in Middlesbrough
REPORT = {
    "category": "fly_tipping",
    "description": "Bags of rubbish dumped in the back lane.",
    "location": {"lat": 54.5762, "lon": -1.2348},
    "answers": {"size": "small"},
}


@pytest.fixture
def two_servers(tmp_path):
    """Two single-worker gunicorn servers (two processes) on one migrated, seeded database."""
    with scratch_database(tmp_path, "processes") as url:
        env = {
            **os.environ,
            "COPA_ENV": "production",
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_DATABASE_URL": url,
            "COPA_RATELIMIT_ENABLED": "false",
            "COPA_DEMO_PASSWORD": PASSWORD,
            "COPA_LOG_LEVEL": "WARNING",
            "COPA_PHOTO_STORAGE_DIR": str(tmp_path / "photos"),
        }
        for command in (["db", "upgrade"], ["copa", "seed-demo"]):
            subprocess.run(
                [sys.executable, "-m", "flask", "--app", "wsgi", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
        with (
            gunicorn_serving(env, tmp_path / "a.log") as port_a,
            gunicorn_serving(env, tmp_path / "b.log") as port_b,
        ):
            yield f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}", url


def test_reference_data_changed_elsewhere_is_used_by_another_process_at_once(two_servers):
    admin_server, resident_server, database_url = two_servers
    admin = _bearer(
        requests.post(
            f"{admin_server}/v1/auth/login",
            json={"email": "admin@copa.example", "password": PASSWORD},
            timeout=10,
        )
    )
    resident = _bearer(requests.post(f"{resident_server}/v1/auth/devices", json={}, timeout=10))

    def report() -> requests.Response:
        return requests.post(
            f"{resident_server}/v1/reports", json=REPORT, headers=resident, timeout=10
        )

    def destination() -> str:
        """Where a report sent through the other process goes (it is already warm: it has
        routed one before each change)."""
        answer = report()
        assert answer.status_code == 201, answer.text
        return answer.json()["destination"]["name"]

    assert destination() == "Middlesbrough Council"
    partners = requests.get(
        f"{admin_server}/v1/admin/partners?page_size=100", headers=admin, timeout=10
    ).json()["items"]
    thirteen = next(p for p in partners if p["code"] == "thirteen-housing")

    # A new rule (a ward beats the local authority) sends the next report elsewhere.
    rule = requests.post(
        f"{admin_server}/v1/admin/routing-rules",
        json={
            "category_code": "fly_tipping",
            "area_level": "ward",
            "area_code": MIDDLEHAVEN,
            "partner_id": thirteen["id"],
        },
        headers=admin,
        timeout=10,
    )
    assert rule.status_code == 201, rule.text
    assert destination() == "Thirteen Housing"

    # Its partner deactivated: the rule no longer applies, the authority's rule does again.
    gone = requests.delete(
        f"{admin_server}/v1/admin/partners/{thirteen['id']}", headers=admin, timeout=10
    )
    assert gone.status_code == 204, gone.text
    assert destination() == "Middlesbrough Council"

    # The partner back, then the rule deactivated: each change shows on the next report.
    back = requests.patch(
        f"{admin_server}/v1/admin/partners/{thirteen['id']}",
        json={"active": True},
        headers=admin,
        timeout=10,
    )
    assert back.status_code == 200, back.text
    assert destination() == "Thirteen Housing"
    off = requests.delete(
        f"{admin_server}/v1/admin/routing-rules/{rule.json()['id']}", headers=admin, timeout=10
    )
    assert off.status_code == 204, off.text
    assert destination() == "Middlesbrough Council"

    # A signpost renamed through the admin API: the next report's answer offers the new title.
    offered = report().json()["signposts"]
    assert offered, "a fly-tipping report in Middlesbrough is offered the council's page"
    renamed = requests.patch(
        f"{admin_server}/v1/admin/signposts/{offered[0]['id']}",
        json={"title": "Report dumped rubbish to the council"},
        headers=admin,
        timeout=10,
    )
    assert renamed.status_code == 200, renamed.text
    titles = [s["title"] for s in report().json()["signposts"]]
    assert "Report dumped rubbish to the council" in titles

    # A category withdrawn by a third process (a session, as the seed and tooling change it):
    # the next report of it is refused as unknown.
    _set_category_active(database_url, "fly_tipping", active=False)
    refused = report()
    assert refused.status_code == 422, refused.text
    assert "category" in refused.json()["errors"]
    _set_category_active(database_url, "fly_tipping", active=True)
    assert destination() == "Middlesbrough Council"


def _set_category_active(database_url: str, code: str, *, active: bool) -> None:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url})
    with app.app_context():
        with write():
            category = db.session.scalar(sa.select(Category).where(Category.code == code))
            category.active = active
        db.session.remove()
        db.engine.dispose()


def _bearer(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code in (200, 201), answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
