"""``flask copa ...``: what an operator types, and what they see afterwards.

The commands run inside the per-test transaction, so their commits land in savepoints.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import BUNDLED_DIR
from copa.auth.models import User
from copa.catalog.models import Category
from copa.db import db, utcnow
from copa.demo import DEMO_PARTNERS
from copa.routing.models import Partner
from copa.web.models import IdempotencyKey
from tests.conftest import TEST_SETTINGS

DEMO_PASSWORD = TEST_SETTINGS["DEMO_PASSWORD"]
DEMO_ROLES = {
    "admin@copa.example": ["admin"],
    "reviewer@copa.example": ["reviewer"],
    "resolution@copa.example": ["resolution"],
    "analyst@copa.example": ["analyst"],
    "partner@copa.example": ["partner"],
}
SEED_CATEGORY_CODES = {
    "asb",
    "vehicle_asb",
    "drugs",
    "suspicious",
    "speeding",
    "hate_incident",
    "question",
    "fly_tipping",
    "abandoned_vehicle",
    "noise",
    "street_lighting",
    "highways",
    "graffiti",
    "dog_fouling",
    "housing_asb",
    "welfare_concern",
}


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def copa(runner, *args: str):
    return runner.invoke(args=["copa", *args])


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def import_counts(output: str, authority_code: str) -> dict[str, int]:
    """The created/updated/unchanged numbers printed for one authority ("11 created" or
    "created 11": the operator reads the numbers, not the word order)."""
    line = next(line for line in output.splitlines() if authority_code in line)
    counts = {}
    for word in ("created", "updated", "unchanged"):
        found = re.search(rf"(\d+) {word}\b|\b{word} (\d+)", line)
        assert found, f"no {word} count in {line!r}"
        counts[word] = int(found.group(1) or found.group(2))
    return counts


def login(client, email: str, password: str):
    return client.post("/v1/auth/login", json={"email": email, "password": password})


# --- seed-demo ----------------------------------------------------------------------------


def test_seed_demo_loads_the_four_authorities_and_82_wards(app, runner, client):
    result = copa(runner, "seed-demo")

    assert result.exit_code == 0, result.output
    assert "82 wards" in result.output
    authorities = client.get("/v1/areas").get_json()
    assert sorted(a["name"] for a in authorities) == [
        "Hartlepool",
        "Middlesbrough",
        "Redcar and Cleveland",
        "Stockton-on-Tees",
    ]
    assert sum(len(a["wards"]) for a in authorities) == 82
    located = client.get("/v1/areas/lookup?lat=54.5742&lon=-1.2350").get_json()
    assert located["local_authority"]["code"] == "E06000002"  # Middlesbrough town centre


def test_seed_demo_loads_the_16_seed_categories(app, runner):
    result = copa(runner, "seed-demo")

    assert result.exit_code == 0, result.output
    assert "categories added: 16" in result.output
    with app.app_context():
        categories = {c.code: c for c in db.session.scalars(sa.select(Category))}
        assert set(categories) == SEED_CATEGORY_CODES
        fly_tipping = categories["fly_tipping"]
        assert fly_tipping.group == "non_policing"
        size = next(q for q in fly_tipping.attributes if q["code"] == "size")
        assert size["required"] is True
        assert [v["key"] for v in size["values"]] == ["small", "large"]


def test_seed_demo_loads_the_ten_demo_partners(app, runner):
    result = copa(runner, "seed-demo")

    assert result.exit_code == 0, result.output
    assert "partners added: 10" in result.output
    with app.app_context():
        stored = dict(db.session.execute(sa.select(Partner.code, Partner.name)).all())
    assert stored == {code: name for code, name, _kind in DEMO_PARTNERS}
    assert "Middlesbrough Council" in stored.values()


def test_the_five_demo_users_can_sign_in_with_the_demo_password(runner, client):
    result = copa(runner, "seed-demo")
    assert result.exit_code == 0, result.output

    for email, roles in DEMO_ROLES.items():
        assert email in result.output
        response = login(client, email, DEMO_PASSWORD)
        assert response.status_code == 200, (email, response.get_json())
        assert response.get_json()["roles"] == roles, email


def test_the_demo_partner_user_belongs_to_middlesbrough_council(app, runner, client):
    copa(runner, "seed-demo")

    tokens = login(client, "partner@copa.example", DEMO_PASSWORD).get_json()

    with app.app_context():
        council = db.session.scalar(
            sa.select(Partner).where(Partner.code == "middlesbrough-council")
        )
    assert tokens["partner_id"] == str(council.id)
    staff = login(client, "admin@copa.example", DEMO_PASSWORD).get_json()
    assert staff["partner_id"] is None


def test_seed_demo_twice_adds_nothing_and_succeeds(app, runner):
    first = copa(runner, "seed-demo")
    assert first.exit_code == 0, first.output
    counts = {model: count(app, model) for model in (LocalAuthority, Ward, Category, Partner, User)}

    second = copa(runner, "seed-demo")

    assert second.exit_code == 0, second.output
    assert "categories added: 0" in second.output
    assert "partners added: 0" in second.output
    assert "demo users already present" in second.output
    assert "82 wards" in second.output
    assert {model: count(app, model) for model in counts} == counts
    assert counts == {LocalAuthority: 4, Ward: 82, Category: 16, Partner: 10, User: 5}


def test_seed_demo_with_the_configured_password_does_not_print_it(runner):
    result = copa(runner, "seed-demo")

    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD not in result.output
    assert "COPA_DEMO_PASSWORD" in result.output


def test_without_a_demo_password_one_is_generated_printed_once_and_works(
    app, runner, client, monkeypatch
):
    monkeypatch.setitem(app.config, "DEMO_PASSWORD", None)

    first = copa(runner, "seed-demo")

    assert first.exit_code == 0, first.output
    printed = re.findall(r"demo password \(shown once[^)]*\): (\S+)", first.output)
    assert len(printed) == 1, first.output
    password = printed[0]
    assert len(password) >= 12
    assert login(client, "reviewer@copa.example", password).status_code == 200
    assert login(client, "partner@copa.example", DEMO_PASSWORD).status_code == 401

    second = copa(runner, "seed-demo")

    assert second.exit_code == 0, second.output
    assert password not in second.output
    assert "demo password" not in second.output
    assert login(client, "admin@copa.example", password).status_code == 200


def test_generated_demo_passwords_differ_between_installations(app, runner, monkeypatch):
    """A demo installation must not share a guessable password with every other one."""
    monkeypatch.setitem(app.config, "DEMO_PASSWORD", None)
    passwords = []
    for _ in range(2):
        output = copa(runner, "seed-demo").output
        passwords += re.findall(r"shown once[^)]*\): (\S+)", output)
        with app.app_context():
            db.session.execute(sa.delete(User))
            db.session.commit()

    assert len(passwords) == 2
    assert passwords[0] != passwords[1]


# --- import-areas -------------------------------------------------------------------------


def test_import_areas_prints_created_updated_unchanged_and_can_be_repeated(app, runner, tmp_path):
    original = BUNDLED_DIR / "E06000001.geojson"

    first = copa(runner, "import-areas", str(original))
    again = copa(runner, "import-areas", str(original))

    assert first.exit_code == 0, first.output
    assert import_counts(first.output, "E06000001") == {"created": 11, "updated": 0, "unchanged": 0}
    assert again.exit_code == 0, again.output
    assert import_counts(again.output, "E06000001") == {"created": 0, "updated": 0, "unchanged": 11}
    assert count(app, Ward) == 11

    data = json.loads(original.read_text())
    data["features"][0]["properties"] = {
        key: ("Renamed ward" if key.startswith("WD") and key.endswith("NM") else value)
        for key, value in data["features"][0]["properties"].items()
    }
    edited = tmp_path / "E06000001.geojson"
    edited.write_text(json.dumps(data))

    changed = copa(runner, "import-areas", str(edited))

    assert changed.exit_code == 0, changed.output
    counts = import_counts(changed.output, "E06000001")
    assert counts == {"created": 0, "updated": 1, "unchanged": 10}
    with app.app_context():
        names = set(db.session.scalars(sa.select(Ward.name)))
    assert "Renamed ward" in names
    assert count(app, Ward) == 11


def test_import_areas_names_stored_wards_missing_from_the_file_and_keeps_them(
    app, runner, tmp_path
):
    original = BUNDLED_DIR / "E06000001.geojson"
    copa(runner, "import-areas", str(original))
    data = json.loads(original.read_text())
    dropped = data["features"].pop(0)
    dropped_code = next(
        value
        for key, value in dropped["properties"].items()
        if key.startswith("WD") and key.endswith("CD")
    )
    shorter = tmp_path / "E06000001.geojson"
    shorter.write_text(json.dumps(data))

    result = copa(runner, "import-areas", str(shorter))

    assert result.exit_code == 0, result.output
    assert dropped_code in result.output
    assert "not in the file" in result.output
    assert import_counts(result.output, "E06000001")["unchanged"] == 10
    assert count(app, Ward) == 11  # reports may refer to it: the operator decides


def test_import_areas_takes_several_files(app, runner):
    files = [str(BUNDLED_DIR / f"{code}.geojson") for code in ("E06000002", "E06000004")]

    result = copa(runner, "import-areas", *files)

    assert result.exit_code == 0, result.output
    assert import_counts(result.output, "E06000002")["created"] == 23
    assert import_counts(result.output, "E06000004")["created"] == 26
    assert count(app, LocalAuthority) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not json", "not valid JSON"),
        ('{"type": "Feature"}', "FeatureCollection"),
    ],
)
def test_import_areas_refuses_a_bad_file_with_a_clear_message(
    app, runner, tmp_path, content, reason
):
    bad = tmp_path / "E06000001.geojson"
    bad.write_text(content)

    result = copa(runner, "import-areas", str(bad))

    assert result.exit_code != 0
    assert "Error:" in result.output
    assert str(bad) in result.output
    assert reason in result.output
    assert "Traceback" not in result.output
    assert count(app, LocalAuthority) == 0
    assert count(app, Ward) == 0


def test_import_areas_refuses_a_missing_file(app, runner, tmp_path):
    result = copa(runner, "import-areas", str(tmp_path / "nowhere.geojson"))

    assert result.exit_code != 0
    assert "does not exist" in result.output
    assert count(app, Ward) == 0


# --- purge --------------------------------------------------------------------------------


def test_purge_deletes_only_idempotency_keys_past_their_retention(app, runner):
    with app.app_context():
        now = utcnow()
        for key, age in (("old", timedelta(days=8)), ("recent", timedelta(days=6))):
            db.session.add(
                IdempotencyKey(
                    principal="device:test",
                    key=key,
                    request_hash="0" * 64,
                    method="POST",
                    path="/v1/things",
                    created_at=now - age,
                )
            )
        db.session.commit()

    result = copa(runner, "purge")

    assert result.exit_code == 0, result.output
    assert "idempotency keys deleted: 1" in result.output
    with app.app_context():
        assert list(db.session.scalars(sa.select(IdempotencyKey.key))) == ["recent"]


def test_purge_with_nothing_to_delete_succeeds(runner):
    result = copa(runner, "purge")

    assert result.exit_code == 0, result.output
    assert "idempotency keys deleted: 0" in result.output
