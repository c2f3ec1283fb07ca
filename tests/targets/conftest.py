from __future__ import annotations

import pytest

# The staff-review tests' fixtures: the reference data, a resident, a reviewer and an admin.
from tests.review.conftest import admin, cleveland, resident, reviewer  # noqa: F401
from tests.review.support import staff_user


@pytest.fixture
def analyst(app, client, cleveland):  # noqa: F811 - cleveland is the imported fixture
    return staff_user(app, client, "analyst")


@pytest.fixture(autouse=True)
def no_repeat_asb_rule(app, monkeypatch):
    """These tests submit several ASB reports from one resident; the rule has its own tests."""
    monkeypatch.setitem(app.config, "REPEAT_ASB_THRESHOLD", 1000)
