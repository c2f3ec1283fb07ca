"""Function-level authorization: every route declares who may call it, and it is enforced."""

from __future__ import annotations

import uuid

import pytest

from copa.open311.views import API_KEY
from copa.web.access import POLICY_ATTR, PUBLIC
from copa.web.prometheus import SCRAPER


def _view_methods(app):
    """(rule, HTTP method, the function that handles it) for every route of the app."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower(), None) if view_class else view
            yield rule, method, handler


def _example_url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters.get(arg)
        if "uuid" in str(converter).lower():
            values[arg] = uuid.uuid4()
        elif hasattr(converter, "items"):  # any(json, xml): one of its values
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_route_declares_a_policy(app):
    undeclared = [
        f"{method} {rule.rule}"
        for rule, method, handler in _view_methods(app)
        if not getattr(handler, POLICY_ATTR, None)
    ]
    assert undeclared == []


def test_every_protected_route_refuses_an_anonymous_caller(app, client):
    checked = 0
    for rule, method, handler in _view_methods(app):
        policy = getattr(handler, POLICY_ATTR)
        if PUBLIC in policy:
            continue
        response = client.open(_example_url(rule), method=method)
        if getattr(handler, "__copa_console__", False):
            # A console page sends whoever is not signed in to the sign-in page.
            assert response.status_code == 303, f"{method} {rule.rule}: {response.status_code}"
            assert response.headers["Location"].startswith("/console/login")
        elif SCRAPER in policy:
            # /metrics: the test client is on loopback, which may scrape; from elsewhere,
            # with no COPA_METRICS_TOKEN set, it is refused (tests/web/test_metrics_endpoint.py).
            response = client.open(
                _example_url(rule), method=method, environ_base={"REMOTE_ADDR": "192.0.2.1"}
            )
            assert response.status_code == 403, f"{method} {rule.rule}: {response.status_code}"
            assert response.mimetype == "application/problem+json"
        elif API_KEY in policy:
            # Open311's own answer to a missing api_key: 403 in its error shape.
            assert response.status_code == 403, f"{method} {rule.rule}: {response.status_code}"
            assert response.get_json() == [
                {"code": 403, "description": "api_key was not provided."}
            ]
        else:
            assert response.status_code == 401, f"{method} {rule.rule}: {response.status_code}"
            assert response.mimetype == "application/problem+json"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("method,path", [("GET", "/healthz"), ("GET", "/v1/areas")])
def test_public_routes_need_no_token(client, method, path):
    assert client.open(path, method=method).status_code == 200
