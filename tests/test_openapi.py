"""openapi.yaml is generated from the code: the committed file must be what the code says."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from copa import create_app
from copa.openapi import render_openapi
from tests.conftest import TEST_SETTINGS

OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"


def _fresh_spec(database: str) -> str:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database})
    with app.app_context():
        return render_openapi()


def test_committed_openapi_matches_the_code(database):
    generated = _fresh_spec(database)
    committed = OPENAPI.read_text()
    assert committed == generated, "openapi.yaml is stale: run `make openapi` and commit it"


def test_every_route_is_in_the_openapi_document(app):
    paths = yaml.safe_load(OPENAPI.read_text())["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console."):
            continue  # the staff console serves pages, not API operations
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", str(rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_protected_operations_declare_bearer_auth_and_roles():
    spec = yaml.safe_load(OPENAPI.read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # path-level parameters, not an operation
                continue
            if operation.get("security") == [{"metricsToken": []}]:
                # Prometheus's scrape: loopback, or the metrics token.
                assert path == "/metrics", f"{method} {path}"
            elif operation.get("security") == [{"open311ApiKey": []}]:
                # An Open311 client's own key: GeoReport v2 routes only.
                assert path.startswith("/open311/v2/"), f"{method} {path}"
            elif operation.get("security"):
                assert operation["security"] == [{"bearerAuth": []}], f"{method} {path}"
                assert operation["x-roles"], f"{method} {path} has no roles"
            else:
                assert operation.get("security") == [], f"{method} {path} declares no security"
