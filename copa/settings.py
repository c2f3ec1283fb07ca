"""The settings as the code reads them: parsed, typed and checked once, in one object.

``copa.config.load_config`` fills ``app.config`` from the defaults, the ``COPA_`` variables and
explicit overrides (and derives the keys Flask's extensions read). ``settings()`` turns the
``COPA_`` settings into one frozen ``Settings``, each value converted to its field's type, once
per application, so no call site casts or re-checks a value. The application's config class
counts changes: a value set after start-up (the tests do, with ``monkeypatch``) makes the next
``settings()`` build the object again.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Config, current_app


class CountingConfig(Config):
    """Flask's config, counting changes, so the typed settings know when to be made again."""

    changes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changes += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changes += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.changes += 1

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.changes += 1
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self.changes += 1
        return super().pop(key, *default)


@dataclass(frozen=True)
class Settings:
    """Every ``COPA_`` setting (README: Configuration), lower-case, typed."""

    env: str
    database_url: str | None
    secret_key: str | None
    jwt_secret_key: str | None
    jwt_issuer: str
    jwt_audience: str
    access_token_minutes: int
    refresh_token_days: int
    ratelimit_storage_uri: str
    ratelimit_enabled: bool
    ratelimit_login: str
    ratelimit_devices: str
    ratelimit_refresh: str
    ratelimit_device_sessions: str
    transfer_code_minutes: int
    ratelimit_transfer_codes: str
    ratelimit_transfer_redeem: str
    proxy_count: int
    max_body_bytes: int
    max_json_bytes: int
    max_json_depth: int
    max_number_digits: int
    idempotency_ttl_days: int
    idempotency_lease_seconds: float
    sqlite_busy_timeout_ms: int
    database_retry_after_seconds: int
    demo_password: str | None
    password_hash_time_cost: int
    password_hash_memory_kib: int
    password_hash_parallelism: int
    emergency_terms: str
    ratelimit_reports: str
    ratelimit_reports_per_address: str
    ratelimit_votes: str
    ratelimit_votes_per_address: str
    ratelimit_feedback: str
    ratelimit_feedback_per_address: str
    ratelimit_photos: str
    ratelimit_photos_per_address: str
    ratelimit_messages: str
    ratelimit_messages_per_address: str
    ratelimit_signpost_clicks: str
    ratelimit_signpost_clicks_per_address: str
    ratelimit_signpost_go_per_address: str
    signpost_click_max_age_days: int
    ratelimit_open311: str
    open311_contact: str
    open311_key_service: str
    open311_endpoint_type: str
    console_idle_minutes: int
    console_session_hours: int
    console_secure_cookie: str | None
    contact_retention_days: int
    photo_retention_days: int
    photo_max_bytes: int
    photo_max_pixels: int
    photo_max_per_report: int
    photo_storage_dir: str | None
    video_max_bytes: int
    video_max_seconds: float
    video_max_per_report: int
    video_storage_dir: str | None
    media_store_url: str | None
    media_lease_seconds: float
    media_poll_seconds: float
    log_level: str
    log_format: str
    metrics_token: str | None
    relay_retry_schedule: tuple[float, ...]
    relay_jitter: float
    relay_lease_seconds: float
    relay_batch_size: int
    relay_poll_seconds: float
    http_timeout_seconds: float
    http_max_response_bytes: int
    allow_loopback_targets: bool
    smtp_url: str | None
    mail_from: str
    mail_dir: str | None
    public_base_url: str
    fcm_credentials_file: str | None
    fcm_url: str
    apns_key_file: str | None
    apns_key_id: str | None
    apns_team_id: str | None
    apns_topic: str | None
    apns_url: str
    repeat_asb_categories: str
    repeat_asb_window_days: int
    repeat_asb_threshold: int
    call_handler_minutes_per_call: float
    purge_schedule: str
    reconcile_schedule: str
    scheduler_standby_seconds: float
    demo_webhook_url: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Convert and check each value; ``ValueError`` names the setting that is wrong."""
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):
            name = field.name.upper()
            try:
                values[field.name] = _convert(config[name], hints[field.name])
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"COPA_{name}={config.get(name)!r}: {error}") from error
        return cls(**values)


def _convert(value: Any, hint: Any) -> Any:
    if isinstance(hint, types.UnionType):  # X | None
        if value is None:
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is tuple:
        (item, _) = typing.get_args(hint)
        return tuple(_convert(each, item) for each in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError("not true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or int(value) != value:
            raise TypeError("not a whole number")
        return int(value)
    if hint is float:
        if isinstance(value, bool):
            raise TypeError("not a number")
        return float(value)
    if value is None:
        raise TypeError("required")
    return str(value)


_KEY = "copa_settings"


def settings() -> Settings:
    """The current application's settings."""
    app = current_app._get_current_object()
    config = app.config
    changes = getattr(config, "changes", None)
    held = app.extensions.get(_KEY)
    if held is not None and held[0] == changes and changes is not None:
        return held[1]
    made = Settings.from_config(config)
    app.extensions[_KEY] = (changes, made)
    return made
