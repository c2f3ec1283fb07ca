from __future__ import annotations

import pytest

from tests.factories import bearer, load_reference_data, register_device
from tests.review.support import staff_user


@pytest.fixture
def cleveland(app):
    """Areas, seed categories, the demo partners and their routing rules."""
    load_reference_data(app)


@pytest.fixture
def resident(client, cleveland):
    return bearer(register_device(client)["access_token"])


@pytest.fixture
def reviewer(app, client, cleveland):
    return staff_user(app, client, "reviewer")


@pytest.fixture
def admin(app, client, cleveland):
    return staff_user(app, client, "admin")


@pytest.fixture
def analyst(app, client, cleveland):
    return staff_user(app, client, "analyst")


@pytest.fixture(autouse=True)
def no_repeat_asb_rule(app, monkeypatch):
    """These tests submit several ASB reports from one resident; the rule has its own tests."""
    monkeypatch.setitem(app.config, "REPEAT_ASB_THRESHOLD", 1000)
