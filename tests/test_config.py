"""Settings: production refuses to start half-configured; development makes its own secrets."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from copa import create_app
from copa.config import ConfigError

PRODUCTION_SECRETS = {
    "SECRET_KEY": "production-secret-key-0123456789abcdef0123456789",
    "JWT_SECRET_KEY": "production-jwt-secret-key-0123456789abcdef012345",
}


@pytest.fixture(autouse=True)
def _no_copa_environment(monkeypatch):
    """Each test starts from an environment without COPA_ variables (the developer's own
    COPA_SECRET_KEY, or COPA_TEST_DATABASE_URL, must not change what these tests see)."""
    for name in list(os.environ):
        if name.startswith("COPA_"):
            monkeypatch.delenv(name)


@pytest.fixture
def instance_folder(tmp_path, monkeypatch) -> Path:
    """Where the next create_app keeps its instance files (secrets.json, the default database).

    create_app lets Flask find the instance folder; Flask asks ``auto_find_instance_path``.
    """
    folder = tmp_path / "instance"
    use_instance_folder(monkeypatch, folder)
    return folder


def use_instance_folder(monkeypatch, folder: Path) -> None:
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(folder))


def development_app(folder: Path, **settings) -> Flask:
    return create_app(
        {
            "ENV": "development",
            "DATABASE_URL": f"sqlite:///{folder.parent / 'copa.db'}",
            "LOG_LEVEL": "WARNING",
            **settings,
        }
    )


def production_settings(tmp_path: Path) -> dict[str, object]:
    return {
        "ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'copa.db'}",
        "LOG_LEVEL": "WARNING",
        **PRODUCTION_SECRETS,
    }


# --- production ---------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"])
def test_production_refuses_to_start_without_each_required_setting(
    missing, tmp_path, instance_folder
):
    settings = production_settings(tmp_path)
    del settings[missing]

    with pytest.raises(ConfigError) as raised:
        create_app(settings)

    message = str(raised.value)
    assert f"COPA_{missing}" in message
    others = {"SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"} - {missing}
    assert not any(f"COPA_{other}" in message for other in others)
    assert not instance_folder.exists()  # nothing invented in its place


@pytest.mark.parametrize("env", ["production", "development"])
@pytest.mark.parametrize(
    "cheap", [{"PASSWORD_HASH_MEMORY_KIB": 64}, {"PASSWORD_HASH_TIME_COST": 1}]
)
def test_only_the_test_suite_may_hash_passwords_cheaply(env, cheap, tmp_path, instance_folder):
    settings = {**production_settings(tmp_path), "ENV": env, **cheap}

    with pytest.raises(ConfigError, match="COPA_PASSWORD_HASH_MEMORY_KIB"):
        create_app(settings)

    testing = create_app({**settings, "ENV": "testing"})
    assert testing.config[next(iter(cheap))] == next(iter(cheap.values()))


def test_passwords_are_hashed_with_the_configured_cost(tmp_path, instance_folder):
    from argon2 import extract_parameters

    from copa.auth.service import hash_password

    app = create_app(production_settings(tmp_path))
    with app.app_context():
        parameters = extract_parameters(hash_password("a long enough passphrase"))
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (3, 65536, 4)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"])
def test_production_treats_an_empty_setting_as_missing(missing, tmp_path, instance_folder):
    settings = {**production_settings(tmp_path), missing: ""}

    with pytest.raises(ConfigError, match=f"COPA_{missing}"):
        create_app(settings)


def test_production_names_every_missing_setting_at_once(instance_folder):
    with pytest.raises(ConfigError) as raised:
        create_app({"ENV": "production", "LOG_LEVEL": "WARNING"})

    message = str(raised.value)
    for name in ("COPA_SECRET_KEY", "COPA_JWT_SECRET_KEY", "COPA_DATABASE_URL"):
        assert name in message


def test_production_starts_with_the_three_settings_and_writes_no_secrets(tmp_path, instance_folder):
    app = create_app(production_settings(tmp_path))

    assert app.config["SECRET_KEY"] == PRODUCTION_SECRETS["SECRET_KEY"]
    assert app.config["JWT_SECRET_KEY"] == PRODUCTION_SECRETS["JWT_SECRET_KEY"]
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'copa.db'}"
    assert not app.testing
    assert not (instance_folder / "secrets.json").exists()
    assert app.test_client().get("/healthz").status_code == 200


def test_production_reads_its_settings_from_copa_environment_variables(
    tmp_path, monkeypatch, instance_folder
):
    monkeypatch.setenv("COPA_ENV", "production")
    monkeypatch.setenv("COPA_SECRET_KEY", PRODUCTION_SECRETS["SECRET_KEY"])
    monkeypatch.setenv("COPA_JWT_SECRET_KEY", PRODUCTION_SECRETS["JWT_SECRET_KEY"])
    monkeypatch.setenv("COPA_DATABASE_URL", f"sqlite:///{tmp_path / 'copa.db'}")
    monkeypatch.setenv("COPA_LOG_LEVEL", "WARNING")

    app = create_app()

    assert app.config["ENV"] == "production"
    assert app.config["JWT_SECRET_KEY"] == PRODUCTION_SECRETS["JWT_SECRET_KEY"]
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'copa.db'}"


# --- development secrets ------------------------------------------------------------------


def test_development_without_secrets_creates_a_private_secrets_file(instance_folder):
    app = development_app(instance_folder)

    path = instance_folder / "secrets.json"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored) == {"SECRET_KEY", "JWT_SECRET_KEY"}
    assert stored["SECRET_KEY"] != stored["JWT_SECRET_KEY"]
    assert all(len(value) >= 32 for value in stored.values())
    assert app.config["SECRET_KEY"] == stored["SECRET_KEY"]
    assert app.config["JWT_SECRET_KEY"] == stored["JWT_SECRET_KEY"]


def test_development_secrets_survive_a_restart(instance_folder):
    first = development_app(instance_folder)
    written = (instance_folder / "secrets.json").read_text()

    second = development_app(instance_folder)

    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert second.config["JWT_SECRET_KEY"] == first.config["JWT_SECRET_KEY"]
    assert (instance_folder / "secrets.json").read_text() == written


def test_two_installations_never_share_a_secret(tmp_path, monkeypatch):
    use_instance_folder(monkeypatch, tmp_path / "one" / "instance")
    one = development_app(tmp_path / "one" / "instance")
    use_instance_folder(monkeypatch, tmp_path / "two" / "instance")
    two = development_app(tmp_path / "two" / "instance")

    assert one.config["SECRET_KEY"] != two.config["SECRET_KEY"]
    assert one.config["JWT_SECRET_KEY"] != two.config["JWT_SECRET_KEY"]
    keys = {one.config["SECRET_KEY"], one.config["JWT_SECRET_KEY"]}
    assert not keys & {two.config["SECRET_KEY"], two.config["JWT_SECRET_KEY"]}


def test_development_keeps_secrets_it_is_given_and_writes_none(instance_folder):
    app = development_app(instance_folder, **PRODUCTION_SECRETS)

    assert app.config["SECRET_KEY"] == PRODUCTION_SECRETS["SECRET_KEY"]
    assert app.config["JWT_SECRET_KEY"] == PRODUCTION_SECRETS["JWT_SECRET_KEY"]
    assert not (instance_folder / "secrets.json").exists()


def test_development_without_a_database_url_uses_sqlite_in_the_instance_folder(instance_folder):
    app = create_app({"ENV": "development", "LOG_LEVEL": "WARNING"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance_folder / 'copa.db'}"


# --- environment variables ----------------------------------------------------------------


def test_copa_environment_variables_become_settings(monkeypatch, instance_folder):
    monkeypatch.setenv("COPA_ACCESS_TOKEN_MINUTES", "5")
    monkeypatch.setenv("COPA_REFRESH_TOKEN_DAYS", "2")
    monkeypatch.setenv("COPA_RATELIMIT_LOGIN", "3/minute")

    app = development_app(instance_folder)

    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(minutes=5)
    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(days=2)
    assert app.config["RATELIMIT_LOGIN"] == "3/minute"


def test_numeric_secrets_and_passwords_stay_strings(monkeypatch, instance_folder):
    monkeypatch.setenv("COPA_SECRET_KEY", "12345678901234567890123456789012")
    monkeypatch.setenv("COPA_JWT_SECRET_KEY", "98765432109876543210987654321098")
    monkeypatch.setenv("COPA_DEMO_PASSWORD", "12345678")
    monkeypatch.setenv("COPA_RATELIMIT_ENABLED", "false")

    app = development_app(instance_folder)

    assert app.config["SECRET_KEY"] == "12345678901234567890123456789012"
    assert app.config["JWT_SECRET_KEY"] == "98765432109876543210987654321098"
    assert app.config["DEMO_PASSWORD"] == "12345678"
    assert app.config["RATELIMIT_ENABLED"] is False


@pytest.mark.parametrize(
    "name,value", [("COPA_ACCESS_TOKEN_MINUTES", "soon"), ("COPA_RATELIMIT_ENABLED", "maybe")]
)
def test_a_setting_that_is_not_of_its_type_is_refused(name, value, monkeypatch, instance_folder):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        development_app(instance_folder)


def test_a_copied_secrets_file_is_made_private_again(instance_folder):
    development_app(instance_folder)
    path = instance_folder / "secrets.json"
    path.chmod(0o644)
    development_app(instance_folder)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_access_tokens_last_15_minutes_and_refresh_tokens_30_days_by_default(instance_folder):
    app = development_app(instance_folder)

    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(minutes=15)
    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(days=30)


def test_settings_given_to_create_app_win_over_the_environment(monkeypatch, instance_folder):
    monkeypatch.setenv("COPA_ACCESS_TOKEN_MINUTES", "5")

    app = development_app(instance_folder, ACCESS_TOKEN_MINUTES=7)

    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(minutes=7)


@pytest.mark.parametrize("env", ["prod", "staging", "Production", ""])
def test_an_unknown_copa_env_is_refused(env, monkeypatch, instance_folder):
    monkeypatch.setenv("COPA_ENV", env)

    with pytest.raises(ConfigError, match="COPA_ENV"):
        create_app({"DATABASE_URL": "sqlite://", "LOG_LEVEL": "WARNING"})
