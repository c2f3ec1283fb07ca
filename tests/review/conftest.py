from __future__ import annotations

import pytest

from copa.reports import photos
from tests.factories import bearer, load_reference_data, register_device
from tests.review.support import staff_user


@pytest.fixture(autouse=True)
def photo_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    yield tmp_path / "photos"
    app.extensions.pop(photos.STORE_EXTENSION, None)


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
def resolution(app, client, cleveland):
    return staff_user(app, client, "resolution")
