"""The service's Prometheus metrics: the instruments every process updates, and their exposition.

Labels are route templates, channels, outcomes and statuses: never a path, an id or anything
about a person, so the number of series stays small and a scrape reveals nothing personal.

Under gunicorn (and for the relay and the scheduled commands, when they share its directory)
``PROMETHEUS_MULTIPROC_DIR`` names a directory where each process writes its values;
``exposition`` then adds up every process's files (prometheus-client's multiprocess mode), and
gunicorn's ``child_exit`` hook (gunicorn.conf.py) forgets a dead worker's live gauges. Without
it the values are this process's own. Figures read from the database at scrape time (the
outbox backlog) come from collectors the application hands to ``exposition``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from copa.web.logs import route_template

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# No ``_created`` series beside every counter and histogram: twice the series for a figure
# Prometheus does not need (multiprocess mode never writes them).
disable_created_metrics()
# Each process's files go there; a command started with the variable set but before gunicorn
# made the directory would otherwise fail on the first metric below.
if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
    os.makedirs(os.environ[MULTIPROCESS_DIR_VARIABLE], exist_ok=True)

HTTP_REQUESTS = Counter(
    "copa_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "copa_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RELAY_ATTEMPTS = Counter(
    "copa_relay_attempts",
    "Delivery attempts the relay recorded, by channel and outcome "
    "(delivered, retry, dead, cancelled, lease_lost).",
    ["channel", "outcome"],
)
NOTIFICATIONS_SENT = Counter(
    "copa_notifications_sent",
    "Notifications delivered to residents (push or email), by channel.",
    ["channel"],
)
NOTIFICATIONS_FAILED = Counter(
    "copa_notifications_failed",
    "Attempts to deliver a notification to a resident that did not deliver it, by channel "
    "and outcome (retry, dead, cancelled).",
    ["channel", "outcome"],
)
RECONCILE_RUNS = Counter("copa_reconcile_runs", "Runs of `flask copa reconcile`.")
RECONCILE_MISMATCHES = Counter(
    "copa_reconcile_mismatches",
    "Rollup rows `flask copa reconcile` found differing from the raw rows, over all its runs.",
)
RECONCILE_LAST_MISMATCHES = Gauge(
    "copa_reconcile_last_mismatches",
    "Mismatches found by the most recent run of `flask copa reconcile`.",
    multiprocess_mode="mostrecent",
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def exposition(collectors: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The text exposition of every process's metrics (or this one's) and of ``collectors``,
    read now; and its content type."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Everything(Collector):
    """The default registry's metrics (this process's instruments, and its process and
    platform figures), inside a registry of this scrape's own."""

    def collect(self):
        yield from REGISTRY.collect()


def init_http_metrics(app: Flask) -> None:
    """Count and time every request by its route template (``/v1/reports/<uuid:report_id>``),
    never its path; timed from the start ``logs.init_request_ids`` records."""

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            route = route_template()
            HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            HTTP_DURATION.labels(request.method, route).observe(time.perf_counter() - started)
        return response
