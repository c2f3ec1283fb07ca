"""``GET /metrics``: the Prometheus text exposition, for a scraper on this host or one holding
the metrics token.

Who may scrape: a caller whose connection comes from loopback (127.0.0.1, ::1) with no
forwarding header, or anyone sending ``Authorization: Bearer <COPA_METRICS_TOKEN>``. The
address is the socket's, read before ``ProxyFix`` rewrites it from ``X-Forwarded-For``, and a
request carrying a forwarding header is never loopback: a reverse proxy on the same host
(nginx on 127.0.0.1) forwards the whole internet's requests from loopback. Without a token
set, everyone else is refused (403); with one, a missing or wrong token is a 401.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView

from copa.settings import settings
from copa.web import telemetry
from copa.web.access import POLICY_ATTR
from copa.web.blueprint import Blueprint
from copa.web.problems import Forbidden, Unauthorized

SCRAPER = "loopback-or-metrics-token"  # the policy of /metrics (tests/test_authorization_matrix)
COLLECTORS_EXTENSION = "copa.metrics_collectors"
_FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host")
# ProxyFix keeps the values it replaced here (werkzeug.middleware.proxy_fix).
_PROXY_FIX_ORIGINAL = "werkzeug.proxy_fix.orig"

blp = Blueprint(
    "prometheus",
    __name__,
    description="Prometheus metrics, for a scraper on this host or one holding the metrics token.",
)


def socket_address() -> str | None:
    """The address the connection came from, whatever ProxyFix made of ``REMOTE_ADDR``."""
    original = request.environ.get(_PROXY_FIX_ORIGINAL) or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def from_loopback() -> bool:
    """The connection comes from this host and no proxy forwarded the request."""
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    address = socket_address()
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False  # a Unix socket's peer, or anything else that is not an IP address
    # A dual-stack listener ([::]) sees IPv4 callers as ::ffff:a.b.c.d.
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def requires_scraper(view: Callable[..., Any]) -> Callable[..., Any]:
    """Declare and enforce the scraper's policy (module docstring)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not from_loopback():
            expected = settings().metrics_token
            if not expected:
                raise Forbidden(
                    "Metrics are served to this host only (no COPA_METRICS_TOKEN is set)."
                )
            offered = _bearer_token()
            if offered is None or not hmac.compare_digest(
                offered.encode("utf-8"), expected.encode("utf-8")
            ):
                raise Unauthorized("Send the metrics token as a bearer token.")
        return view(*args, **kwargs)

    setattr(wrapper, POLICY_ATTR, frozenset({SCRAPER}))
    documented = blp.doc(security=[{"metricsToken": []}])(wrapper)
    setattr(documented, POLICY_ATTR, frozenset({SCRAPER}))
    return documented


_EXPOSITION = {
    "200": {
        "description": "The Prometheus text exposition format.",
        "content": {
            "text/plain": {
                "schema": {"type": "string"},
                "example": "# HELP copa_outbox_messages Outbox messages waiting ...\n"
                "# TYPE copa_outbox_messages gauge\n"
                'copa_outbox_messages{channel="webhook",state="pending"} 3.0\n',
            }
        },
    },
    "default": "DEFAULT_ERROR",
}


@blp.route("/metrics")
class Metrics(MethodView):
    @requires_scraper
    @blp.doc(responses=_EXPOSITION)
    def get(self):
        """The service's metrics, in Prometheus's text format.

        Requests by route template and status with latency histograms; the outbox backlog by
        channel (pending, dead, the age of the oldest pending message), read from the database
        at each scrape; relay attempts by channel and outcome; notifications sent and failed;
        reconcile runs and mismatches. Answered to callers on this host (loopback, not forwarded by a proxy); anyone else
        sends `Authorization: Bearer <COPA_METRICS_TOKEN>`.
        """
        body, content_type = telemetry.exposition(
            current_app.extensions.get(COLLECTORS_EXTENSION, ())
        )
        return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
