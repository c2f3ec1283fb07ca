from __future__ import annotations

import pytest

from tests.factories import bearer, load_reference_data, signed_in


@pytest.fixture
def cleveland(app):
    """Areas, seed categories, the demo partners and their routing rules."""
    load_reference_data(app)


@pytest.fixture
def analyst(app, client, cleveland):
    return bearer(signed_in(app, client, "analyst")["access_token"])
