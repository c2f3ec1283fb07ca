"""copa: the backend of COPA, the Cleveland Online Policing App."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from copa.config import load_config
from copa.settings import CountingConfig, Settings, settings


class CopaFlask(Flask):
    # Counts changes to app.config, so copa.settings.settings() is made again after one.
    config_class = CountingConfig


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the application: config -> extensions -> blueprints -> error handlers -> CLI."""
    app = CopaFlask(__name__, instance_relative_config=True, static_folder=None)
    load_config(app, config)
    configure_logging(app)
    init_observability(app)
    init_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def configure_logging(app: Flask) -> None:
    # The root handler first: Flask then adds no handler of its own to app.logger, which would
    # write each of its lines twice (gunicorn).
    from copa.web import logs

    config = Settings.from_config(app.config)
    if not app.debug and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logs.formatter(config.log_format))  # JSON lines by default
        logging.basicConfig(level=config.log_level.upper(), handlers=[handler])
    app.logger.setLevel(config.log_level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # No credential in any log line: api_key/token query parameters (werkzeug's request log
    # of `flask run`), unsubscribe tokens in paths, bearer tokens.
    from copa.web import redaction

    redaction.install(logging.getLogger(), app.logger, logging.getLogger("werkzeug"))


def init_observability(app: Flask) -> None:
    """Request ids (taken or made, returned, in every log line and outbox message) and the
    request metrics; their hooks run before every other, so a refused request is seen too.
    /metrics also reads the outbox backlog from the database at each scrape."""
    from copa.outbox.telemetry import OutboxBacklog
    from copa.web.logs import init_request_ids
    from copa.web.prometheus import COLLECTORS_EXTENSION
    from copa.web.telemetry import init_http_metrics

    init_request_ids(app)
    init_http_metrics(app)
    app.extensions[COLLECTORS_EXTENSION] = (OutboxBacklog(),)


def init_extensions(app: Flask) -> None:
    from copa import auth  # noqa: F401 - the models must be known to the metadata
    from copa.auth.tokens import init_tokens
    from copa.extensions import api, db, jwt, limiter, migrate

    hops = Settings.from_config(app.config).proxy_count
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    import_models()
    install_rollups()
    install_reference_caches()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    jwt.init_app(app)
    init_tokens(app)
    limiter.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.spec.components.security_scheme(
        "metricsToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "COPA_METRICS_TOKEN; not needed from this host (loopback).",
        },
    )
    api.spec.components.security_scheme(
        "open311ApiKey",
        {
            "type": "apiKey",
            "in": "query",
            "name": "api_key",
            "description": "An Open311 client's api_key (in the form body of a POST).",
        },
    )

    from copa.web.uploads import declared_body_limit

    @app.before_request
    def _cap_request_bodies() -> None:
        # Photos may be megabytes; a JSON document never needs to be.
        if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
            request.max_content_length = settings().max_json_bytes
        elif (declared := declared_body_limit(app, request)) is not None:
            request.max_content_length = declared  # e.g. a video: larger than the default
        # Refuse a declared oversize body before anything reads it.
        limit = request.max_content_length
        if (
            limit is not None
            and request.content_length is not None
            and request.content_length > limit
        ):
            raise RequestEntityTooLarge()

    from copa.web.responses import no_content_is_empty

    app.after_request(no_content_is_empty)

    # After the size cap: control characters in the path, query string or form fields.
    from copa.web.input_guard import init_input_guard

    init_input_guard(app)


def install_rollups() -> None:
    """Keep the metrics rollups in every transaction that changes what they count."""
    from copa.metrics.rollups import install

    install()


def install_reference_caches() -> None:
    """Give reference data a new token with every change, so every process's caches reload."""
    from copa.refcache import install

    install()


def import_models() -> None:
    """Import every feature's models so the metadata (and Alembic) sees all tables."""
    from copa import refcache as _refcache  # noqa: F401 - reference_version
    from copa import references as _references  # noqa: F401 - reference_counter
    from copa.areas import models as _areas  # noqa: F401
    from copa.audit import models as _audit  # noqa: F401
    from copa.auth import models as _auth  # noqa: F401
    from copa.call_statistics import models as _call_statistics  # noqa: F401
    from copa.catalog import models as _catalog  # noqa: F401
    from copa.confidence import models as _confidence  # noqa: F401
    from copa.contacts import models as _contacts  # noqa: F401
    from copa.feedback import models as _feedback  # noqa: F401
    from copa.messages import models as _messages  # noqa: F401
    from copa.metrics import models as _metrics  # noqa: F401
    from copa.notifications import email as _email  # noqa: F401 - the resident_email channel
    from copa.notifications import models as _notifications  # noqa: F401
    from copa.notifications import push as _push  # noqa: F401
    from copa.open311 import models as _open311  # noqa: F401
    from copa.outbox import models as _outbox  # noqa: F401
    from copa.reports import models as _reports  # noqa: F401
    from copa.routing import models as _routing  # noqa: F401
    from copa.signposts import models as _signposts  # noqa: F401
    from copa.targets import models as _targets  # noqa: F401
    from copa.web import models as _web  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from copa.areas.views import blp as areas
    from copa.auth.views import blp as auth
    from copa.auth.views import users
    from copa.call_statistics.views import blp as call_statistics
    from copa.catalog.views import admin as catalog_admin
    from copa.catalog.views import blp as catalog
    from copa.confidence.views import blp as confidence
    from copa.extensions import api
    from copa.feedback.views import blp as feedback
    from copa.feedback.views import complaints
    from copa.messages.views import resident_messages, staff_messages
    from copa.metrics.views import blp as metrics
    from copa.notifications.unsubscribe_views import blp as unsubscribe
    from copa.notifications.views import blp as notifications
    from copa.open311.views import blp as open311
    from copa.open311.views import clients as open311_clients
    from copa.open_data.views import blp as open_data
    from copa.outbox.views import blp as deliveries
    from copa.pcc_report.views import blp as pcc_report
    from copa.privacy.views import blp as privacy
    from copa.reports.views import blp as reports
    from copa.review.views import audit, staff
    from copa.routing.views import partner_api, partners, routing_rules
    from copa.signposts.views import admin as signposts_admin
    from copa.signposts.views import blp as signposts
    from copa.signposts.views import go
    from copa.submissions.views import blp as submissions
    from copa.targets.views import blp as targets
    from copa.web.health import blp as health
    from copa.web.prometheus import blp as prometheus

    for blueprint in (
        health,
        prometheus,
        auth,
        privacy,
        notifications,
        unsubscribe,
        areas,
        catalog,
        reports,
        submissions,
        feedback,
        confidence,
        signposts,
        go,
        partners,
        routing_rules,
        partner_api,
        deliveries,
        staff,
        complaints,
        resident_messages,
        staff_messages,
        users,
        audit,
        metrics,
        pcc_report,
        call_statistics,
        open_data,
        open311_clients,
        open311,
        signposts_admin,
        catalog_admin,
        targets,
    ):
        api.register_blueprint(blueprint)
    # The console serves pages, not API operations: a plain Flask blueprint, outside openapi.yaml.
    from copa.console.views import blp as console

    app.register_blueprint(console)


def register_error_handlers(app: Flask) -> None:
    from copa.web import outage
    from copa.web.problems import register_error_handlers as register

    register(app)
    outage.register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from copa.cli import copa_cli

    app.cli.add_command(copa_cli)


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
