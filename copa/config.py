"""Settings from the environment.

Every setting is a ``COPA_`` environment variable (``COPA_DATABASE_URL`` becomes
``DATABASE_URL``). A value is converted to the type of its default (``COPA_ACCESS_TOKEN_MINUTES=5``
is an int, ``COPA_RATELIMIT_ENABLED=false`` a bool); everything else stays a string, so a
numeric password or secret is never turned into a number. The README's configuration table lists
them all; keep the two in step.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from flask import Flask

DEFAULTS: dict[str, object] = {
    "ENV": "development",
    "DATABASE_URL": None,  # default: SQLite file instance/copa.db
    "SECRET_KEY": None,
    "JWT_SECRET_KEY": None,
    "JWT_ISSUER": "copa",
    "JWT_AUDIENCE": "copa-api",
    "ACCESS_TOKEN_MINUTES": 15,
    "REFRESH_TOKEN_DAYS": 30,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN": "10/minute",
    "RATELIMIT_DEVICES": "20/hour",
    "RATELIMIT_REFRESH": "60/hour",
    # A resident's app signing in again with its device secret (per client address).
    "RATELIMIT_DEVICE_SESSIONS": "20/hour",
    # Moving to a new phone: one-time transfer codes, per device; redeeming, per device and
    # per address.
    "TRANSFER_CODE_MINUTES": 15,
    "RATELIMIT_TRANSFER_CODES": "5/hour",
    "RATELIMIT_TRANSFER_REDEEM": "10/hour",
    "PROXY_COUNT": 0,
    "MAX_BODY_BYTES": 9 * 1024 * 1024,
    "MAX_JSON_BYTES": 64 * 1024,
    # Request JSON deeper than this, or with a number of more digits, is refused (400/422)
    # before any schema sees it: no body of ours needs more, and deeper input exhausts the stack.
    "MAX_JSON_DEPTH": 32,
    "MAX_NUMBER_DIGITS": 64,
    "IDEMPOTENCY_TTL_DAYS": 7,
    "IDEMPOTENCY_LEASE_SECONDS": 30,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    # A request that cannot reach the database answers 503 with this Retry-After.
    "DATABASE_RETRY_AFTER_SECONDS": 5,
    "DEMO_PASSWORD": None,
    # argon2id cost of staff and partner passwords: RFC 9106's low-memory profile (64 MiB).
    # Below OWASP's minimum (19 MiB, 2 passes) only for the test suite (COPA_ENV=testing).
    "PASSWORD_HASH_TIME_COST": 3,
    "PASSWORD_HASH_MEMORY_KIB": 65536,
    "PASSWORD_HASH_PARALLELISM": 4,
    "EMERGENCY_TERMS": "",  # comma-separated; empty means the built-in list
    "RATELIMIT_REPORTS": "20/hour",
    "RATELIMIT_REPORTS_PER_ADDRESS": "300/hour",
    "RATELIMIT_VOTES": "10/hour",
    "RATELIMIT_VOTES_PER_ADDRESS": "300/hour",
    "RATELIMIT_FEEDBACK": "20/hour",
    "RATELIMIT_FEEDBACK_PER_ADDRESS": "300/hour",
    "RATELIMIT_PHOTOS": "60/hour",
    "RATELIMIT_PHOTOS_PER_ADDRESS": "600/hour",
    "RATELIMIT_MESSAGES": "30/hour",  # a resident's answers and added information
    "RATELIMIT_MESSAGES_PER_ADDRESS": "300/hour",
    # Signpost taps the app records: per signed-in device, and per address (signed in or not).
    "RATELIMIT_SIGNPOST_CLICKS": "120/hour",
    "RATELIMIT_SIGNPOST_CLICKS_PER_ADDRESS": "1200/hour",
    # Visits to /go/{code} counted per address; past it the redirect still works, uncounted.
    "RATELIMIT_SIGNPOST_GO_PER_ADDRESS": "120/hour",
    "SIGNPOST_CLICK_MAX_AGE_DAYS": 7,  # how late the app may send a tap made offline
    # Open311 GeoReport v2 (inbound): per client api_key; FixMyStreet sends in batches.
    "RATELIMIT_OPEN311": "1200/hour",
    "OPEN311_CONTACT": "Office of the Police and Crime Commissioner for Cleveland",
    "OPEN311_KEY_SERVICE": "Ask the Office of the Police and Crime Commissioner for Cleveland "
    "for an api_key.",
    "OPEN311_ENDPOINT_TYPE": "production",  # discovery's endpoint type: production or test
    # The staff console's cookie session: signed out after this long idle, or this long at all.
    "CONSOLE_IDLE_MINUTES": 30,
    "CONSOLE_SESSION_HOURS": 12,
    "CONSOLE_SECURE_COOKIE": None,  # None: Secure in production only (make run serves http)
    "CONTACT_RETENTION_DAYS": 365,
    "PHOTO_RETENTION_DAYS": 365,
    "PHOTO_MAX_BYTES": 8 * 1024 * 1024,
    "PHOTO_MAX_PIXELS": 40_000_000,
    "PHOTO_MAX_PER_REPORT": 5,
    "PHOTO_STORAGE_DIR": None,  # default: instance/photos
    # Videos from phones (MP4, MOV, 3GP): both caps are checked before anything is decoded.
    "VIDEO_MAX_BYTES": 50 * 1024 * 1024,  # counted while the upload streams in
    "VIDEO_MAX_SECONDS": 60,  # from the container's header, then held to while decoding
    "VIDEO_MAX_PER_REPORT": 2,
    "VIDEO_STORAGE_DIR": None,  # default: instance/videos (originals in its quarantine/)
    # Where media lives (copa/objectstore.py): unset or file:///path for local folders,
    # s3://bucket?endpoint_url=...&region=...&prefix=...&sse=AES256 for an S3-compatible store.
    "MEDIA_STORE_URL": None,
    "MEDIA_LEASE_SECONDS": 300,  # how long a media worker holds a video (renewed as it works)
    "MEDIA_POLL_SECONDS": 2.0,  # a media worker's pause when nothing waits
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",  # json: one JSON object a line, with the request id; text: for people
    # GET /metrics from anywhere but this host needs this bearer token; unset, only loopback.
    "METRICS_TOKEN": None,
    # The outbox relay (``flask copa relay``) and its channels.
    # Seconds to wait before each attempt: the first at once, the last 24 h after the ninth;
    # a message still failing after the last is dead-lettered for staff.
    "RELAY_RETRY_SCHEDULE": [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
    "RELAY_JITTER": 0.1,  # each wait is lengthened by up to this fraction (never shortened)
    "RELAY_LEASE_SECONDS": 60,  # how long a relay holds a message it is delivering
    "RELAY_BATCH_SIZE": 20,  # messages claimed at a time
    "RELAY_POLL_SECONDS": 5.0,  # pause when nothing is due
    "HTTP_TIMEOUT_SECONDS": 10.0,  # the whole of one outbound request, connect to last byte
    "HTTP_MAX_RESPONSE_BYTES": 64 * 1024,  # more of a partner's answer is never read
    "ALLOW_LOOPBACK_TARGETS": False,  # development: partner endpoints on 127.0.0.1 / ::1
    "SMTP_URL": None,  # smtp://user:pass@host:587 (STARTTLS) or smtps://...; none: .eml files
    "MAIL_FROM": "COPA <no-reply@copa.example>",
    "MAIL_DIR": None,  # where .eml files go without SMTP_URL; default instance/mail
    # This service as residents and partners reach it (no trailing slash): the links in emails
    # (residents' unsubscribe links, partners' referral links).
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    # Push to residents' phones (relay channels fcm, apns); with none set, push is off.
    "FCM_CREDENTIALS_FILE": None,  # a Firebase service-account JSON (its project_id is used)
    "FCM_URL": "https://fcm.googleapis.com",
    "APNS_KEY_FILE": None,  # an APNs auth key (.p8): iOS tokens then go to Apple directly
    "APNS_KEY_ID": None,
    "APNS_TEAM_ID": None,
    "APNS_TOPIC": None,  # the app's bundle id
    "APNS_URL": "https://api.push.apple.com",
    # Repeat antisocial behaviour (DOMAIN.md; the ASB Case Review threshold): this many reports
    # of these categories (comma-separated codes) within the window flag each other for staff.
    "REPEAT_ASB_CATEGORIES": "asb,vehicle_asb,housing_asb",
    "REPEAT_ASB_WINDOW_DAYS": 183,
    "REPEAT_ASB_THRESHOLD": 3,
    # Demand reduction (DOMAIN.md): call-handler minutes one non-emergency 101 call takes, for
    # the minutes saved of a quarter whose imported call statistics give no handling time.
    "CALL_HANDLER_MINUTES_PER_CALL": 5.0,
    # The scheduler (``flask copa scheduler``): crontab lines (minute hour day month weekday)
    # in Europe/London. Purge early each morning, reconcile after it (both run again safely).
    "PURGE_SCHEDULE": "30 2 * * *",
    "RECONCILE_SCHEDULE": "30 4 * * *",
    # A scheduler standing by (another holds the lock) tries to take over this often.
    "SCHEDULER_STANDBY_SECONDS": 15.0,
    # Development: seed-demo points the demo partners that have no delivery channel at this
    # webhook URL (a local receiver), so a `make run` shows referrals leaving.
    "DEMO_WEBHOOK_URL": None,
}

REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL")


class ConfigError(RuntimeError):
    """The service cannot start with the configuration it was given."""


_MIN_HASH_MEMORY_KIB = 19456  # OWASP Password Storage Cheat Sheet: argon2id m=19 MiB, t=2
_MIN_HASH_TIME_COST = 2


def load_config(app: Flask, overrides: Mapping[str, object] | None = None) -> None:
    """Fill ``app.config`` from defaults, ``COPA_`` variables, then explicit overrides."""
    app.config.update(DEFAULTS)
    app.config.update(settings_from_environment(os.environ))
    if overrides:
        app.config.update(overrides)

    env = app.config["ENV"]
    if env not in ("development", "production", "testing"):
        raise ConfigError(f"COPA_ENV must be development, production or testing, not {env!r}")
    app.config["TESTING"] = app.config.get("TESTING", False) or env == "testing"

    if env == "production":
        missing = [f"COPA_{k}" for k in REQUIRED_IN_PRODUCTION if not app.config.get(k)]
        if missing:
            raise ConfigError("production needs " + ", ".join(missing))
        if app.config.get("ALLOW_LOOPBACK_TARGETS"):
            raise ConfigError("COPA_ALLOW_LOOPBACK_TARGETS is for development only")
    else:
        _fill_development_secrets(app)

    if app.config["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError(f"COPA_LOG_FORMAT must be json or text, not {app.config['LOG_FORMAT']!r}")

    if env != "testing" and (
        app.config["PASSWORD_HASH_MEMORY_KIB"] < _MIN_HASH_MEMORY_KIB
        or app.config["PASSWORD_HASH_TIME_COST"] < _MIN_HASH_TIME_COST
    ):
        raise ConfigError(
            "COPA_PASSWORD_HASH_MEMORY_KIB and COPA_PASSWORD_HASH_TIME_COST must be at least "
            f"{_MIN_HASH_MEMORY_KIB} and {_MIN_HASH_TIME_COST} (OWASP's argon2id minimum); "
            "cheaper hashing is for the test suite only"
        )

    from copa.objectstore import MediaStoreUrlError, parse_media_store_url

    try:  # a wrong media store is said at startup, not at the first upload
        parse_media_store_url(app.config.get("MEDIA_STORE_URL"))
    except MediaStoreUrlError as error:
        raise ConfigError(str(error)) from None

    if not app.config["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'copa.db'}"

    from copa.settings import Settings

    try:  # every value of the right type, or the service does not start
        Settings.from_config(app.config)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    _derive_library_settings(app)


def settings_from_environment(
    environ: Mapping[str, str], prefix: str = "COPA_"
) -> dict[str, object]:
    """``COPA_X`` variables as settings ``X``, typed by their defaults."""
    settings: dict[str, object] = {}
    for name, raw in environ.items():
        if not name.startswith(prefix):
            continue
        key = name[len(prefix) :]
        default = DEFAULTS.get(key)
        try:
            if isinstance(default, bool):
                if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(raw)
                settings[key] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                settings[key] = int(raw)
            elif isinstance(default, float):
                settings[key] = float(raw)
            elif isinstance(default, list):
                settings[key] = _number_list(raw)
            else:
                settings[key] = raw
        except ValueError as error:
            raise ConfigError(f"{name}={raw!r} is not a valid {type(default).__name__}") from error
    return settings


def _number_list(raw: str) -> list[float]:
    """A JSON list of non-negative numbers (``COPA_RELAY_RETRY_SCHEDULE=[0, 0.01, 0.02]``)."""
    value = json.loads(raw)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(n, int | float) and not isinstance(n, bool) and n >= 0 for n in value)
    ):
        raise ValueError(raw)
    return value


def _fill_development_secrets(app: Flask) -> None:
    """Outside production, keep random secrets in instance/secrets.json (mode 0600).

    They survive restarts (tokens stay valid during development) and are never constants
    in the code, so no two installations share a key.
    """
    if app.config.get("SECRET_KEY") and app.config.get("JWT_SECRET_KEY"):
        return
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        os.chmod(path, 0o600)  # a copied file may have come with looser permissions
        try:
            stored = json.loads(path.read_text())
        except ValueError as error:
            raise ConfigError(f"{path} is not valid JSON; delete it to make new secrets") from error
    changed = False
    for key in ("SECRET_KEY", "JWT_SECRET_KEY"):
        if not stored.get(key):
            stored[key] = secrets.token_urlsafe(48)
            changed = True
    if changed:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
        os.chmod(path, 0o600)
    for key, value in stored.items():
        if not app.config.get(key):
            app.config[key] = value


def _derive_library_settings(app: Flask) -> None:
    """Translate COPA_ settings into the names the extensions read."""
    c = app.config
    c["SQLALCHEMY_DATABASE_URI"] = c["DATABASE_URL"]
    c["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(c["DATABASE_URL"])
    c["MAX_CONTENT_LENGTH"] = int(c["MAX_BODY_BYTES"])
    c["JSON_SORT_KEYS"] = False

    c["JWT_ALGORITHM"] = "HS256"
    c["JWT_DECODE_ALGORITHMS"] = ["HS256"]
    c["JWT_ENCODE_ISSUER"] = c["JWT_ISSUER"]
    c["JWT_DECODE_ISSUER"] = c["JWT_ISSUER"]
    c["JWT_ENCODE_AUDIENCE"] = c["JWT_AUDIENCE"]
    c["JWT_DECODE_AUDIENCE"] = c["JWT_AUDIENCE"]
    c["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(minutes=int(c["ACCESS_TOKEN_MINUTES"]))
    c["JWT_REFRESH_TOKEN_EXPIRES"] = timedelta(days=int(c["REFRESH_TOKEN_DAYS"]))
    c["JWT_TOKEN_LOCATION"] = ["headers"]
    c["JWT_ERROR_MESSAGE_KEY"] = "detail"
    c["JWT_COOKIE_CSRF_PROTECT"] = False  # bearer tokens only, never cookies

    # Retry-After goes on 429s only (the problem handler sets it); the library would put its
    # window length on every response of a limited route.
    c["RATELIMIT_HEADERS_ENABLED"] = False
    c["RATELIMIT_STORAGE_URI"] = c["RATELIMIT_STORAGE_URI"]

    # The console's session cookie: only sent to /console, never to another site, not to
    # scripts, and over https only in production unless set.
    secure = c["CONSOLE_SECURE_COOKIE"]
    c["SESSION_COOKIE_SECURE"] = c["ENV"] == "production" if secure is None else bool(secure)
    c["SESSION_COOKIE_NAME"] = "copa_console"
    c["SESSION_COOKIE_PATH"] = "/console"
    c["SESSION_COOKIE_HTTPONLY"] = True
    c["SESSION_COOKIE_SAMESITE"] = "Strict"
    c["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=int(c["CONSOLE_IDLE_MINUTES"]))

    c["API_TITLE"] = "COPA API"
    c["API_VERSION"] = "1.0.0"
    c["OPENAPI_VERSION"] = "3.0.3"


def engine_options(url: str) -> dict[str, object]:
    # A database error's message (logged with its traceback) would otherwise list the
    # statement's values: a resident's description, email or phone number.
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False}, "hide_parameters": True}
    return {"pool_pre_ping": True, "hide_parameters": True}
