"""The typed settings object: every COPA_ setting has one typed field, a value of the wrong
type stops the start naming the setting, the object is made once and again after a change, and
no code outside the settings reads a COPA_ setting from app.config."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from copa import create_app
from copa.config import DEFAULTS, ConfigError
from copa.settings import Settings, settings
from tests.conftest import TEST_SETTINGS

COPA = Path(__file__).resolve().parents[1] / "copa"


def test_every_setting_has_exactly_one_typed_field():
    fields = {field.name.upper() for field in dataclasses.fields(Settings)}
    assert fields == set(DEFAULTS)


def test_the_values_come_typed_from_the_environment(monkeypatch):
    monkeypatch.setenv("COPA_RELAY_RETRY_SCHEDULE", "[0, 1, 2.5]")
    monkeypatch.setenv("COPA_RELAY_BATCH_SIZE", "7")
    monkeypatch.setenv("COPA_HTTP_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("COPA_ALLOW_LOOPBACK_TARGETS", "true")
    app = create_app(TEST_SETTINGS)
    with app.app_context():
        loaded = settings()

    assert loaded.relay_retry_schedule == (0.0, 1.0, 2.5)
    assert loaded.relay_batch_size == 7 and type(loaded.relay_batch_size) is int
    assert loaded.http_timeout_seconds == 3.0 and type(loaded.http_timeout_seconds) is float
    assert loaded.allow_loopback_targets is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELAY_BATCH_SIZE", "many"),
        ("RELAY_BATCH_SIZE", 2.5),
        ("RATELIMIT_ENABLED", "yes please"),
        ("HTTP_TIMEOUT_SECONDS", None),
        ("RELAY_RETRY_SCHEDULE", ["soon"]),
    ],
)
def test_a_value_of_the_wrong_type_stops_the_start_and_names_the_setting(name, value):
    with pytest.raises(ConfigError, match=f"COPA_{name}"):
        create_app({**TEST_SETTINGS, name: value})


def test_the_object_is_made_once_and_again_after_a_change(app, monkeypatch):
    with app.app_context():
        first = settings()
        assert settings() is first
        monkeypatch.setitem(app.config, "RELAY_BATCH_SIZE", 3)
        changed = settings()
    assert changed is not first
    assert changed.relay_batch_size == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.relay_batch_size = 4  # type: ignore[misc]


def test_no_code_reads_a_copa_setting_from_app_config():
    names = "|".join(sorted(DEFAULTS, key=len, reverse=True))
    read = re.compile(rf"config(?:\.get\(|\[)\s*[\"']({names})[\"']")
    offenders = [
        f"{path.relative_to(COPA.parent)}:{number}: {line.strip()}"
        for path in COPA.rglob("*.py")
        if path.name not in ("config.py", "settings.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if read.search(line)
    ]
    assert offenders == []
