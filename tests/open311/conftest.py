"""Fixtures for the Open311 GeoReport v2 tests: the Cleveland reference data and a client."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.factories import load_reference_data

JURISDICTION = "cleveland.police.uk"


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    jurisdiction_id: str
    api_key: str


def make_client(app, name: str = "FixMyStreet", jurisdiction_id: str = JURISDICTION, **extra):
    """A registered Open311 client and its api_key (as an admin would be shown it once)."""
    from copa.open311.api_clients import create_client

    with app.app_context():
        saved = create_client(None, {"name": name, "jurisdiction_id": jurisdiction_id, **extra})
        return Client(str(saved.id), saved.name, saved.jurisdiction_id, saved.api_key)


@pytest.fixture
def reference_data(app):
    load_reference_data(app)


@pytest.fixture
def open311_client(app, reference_data) -> Client:
    return make_client(app)
