"""The media tests' resident: an app install, its bearer header, and a report of theirs."""

from __future__ import annotations

import pytest

from tests.factories import bearer, register_device
from tests.reports.test_photos import make_report


@pytest.fixture
def resident(client):
    return register_device(client)


@pytest.fixture
def auth(resident):
    return bearer(resident["access_token"])


@pytest.fixture
def report_id(app, resident):
    return make_report(app, resident["device_id"])
