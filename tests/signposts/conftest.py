from __future__ import annotations

import pytest

from copa.signposts.seed import ensure_seed_signposts
from tests.factories import UserFactory, bearer, load_reference_data, register_device, user_tokens


@pytest.fixture
def cleveland(app):
    """Areas, seed categories, the demo partners and routing rules, and the seed signposts."""
    load_reference_data(app)
    with app.app_context():
        ensure_seed_signposts()


@pytest.fixture
def admin(app, cleveland) -> dict[str, str]:
    with app.app_context():
        user = UserFactory(roles=["admin"])
    return user_tokens(app, user)[0]


@pytest.fixture
def resident(client) -> dict[str, str]:
    return bearer(register_device(client)["access_token"])
