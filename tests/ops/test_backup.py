"""``flask copa backup`` and ``flask copa restore``: a backup taken while the data is there,
restored after the database and the media are gone, gives back every row (the rollups still
reconcile), every photo and processed video byte for byte, and a video still in quarantine to be
processed; a backup from a newer schema is refused."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from PIL import Image

from copa import create_app
from copa.db import db
from copa.reports import videos
from copa.reports.models import Report
from copa.reports.photos import STORE_EXTENSION, photo_store
from copa.reports.videos import run_media_worker
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, load_reference_data, register_device
from tests.factories import scratch_database as scratch_db
from tests.media_stores import stored_files
from tests.reports.test_videos import phone_video
from tests.review.support import MIDDLEHAVEN, submit


@pytest.fixture
def scratch_database(tmp_path):
    with scratch_db(tmp_path, "backup") as url:
        yield url


@pytest.fixture
def live(scratch_database, media_store):
    """An application on a database and a media store of its own (local folders, then a
    bucket on moto's S3 server), migrated."""
    app = create_app(
        {
            **TEST_SETTINGS,
            "DATABASE_URL": scratch_database,
            **media_store.settings(),
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def photo(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "JPEG")
    return out.getvalue()


def upload(client, resident, report_id: str, data: bytes) -> str:
    response = client.post(
        f"/v1/reports/{report_id}/photos",
        data={"photo": (io.BytesIO(data), "photo.jpg", "image/jpeg")},
        headers=resident,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def served(client, resident, report_id: str, photo_id: str) -> bytes:
    response = client.get(f"/v1/reports/{report_id}/photos/{photo_id}", headers=resident)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def upload_video(client, resident, report_id: str, data: bytes) -> str:
    response = client.post(
        f"/v1/reports/{report_id}/videos",
        data={"video": (io.BytesIO(data), "IMG_0001.MOV", "video/quicktime")},
        headers=resident,
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def video_url(report_id: str, video_id: str) -> str:
    return f"/v1/reports/{report_id}/videos/{video_id}"


def work(app):
    with app.app_context():
        return run_media_worker(once=True, owner="backup-test")


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["copa", *args])


def wipe(app, database_url: str, media_store) -> None:
    """What a lost disk (and an emptied bucket) leaves: no database, no photos, no videos."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if database_url.startswith("sqlite"):
        path = Path(sa.make_url(database_url).database)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    else:
        parts = urlsplit(database_url)
        server = sa.create_engine(
            urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT"
        )
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{parts.path[1:]}" WITH (FORCE)')
        server.dispose()
    media_store.wipe()


def reports_held(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Report))
        db.session.remove()
    return count


def test_a_restored_backup_gives_back_every_row_and_photo(
    live, scratch_database, media_store, tmp_path
):
    load_reference_data(live)
    client = live.test_client()
    resident = bearer(register_device(client)["access_token"])
    first = submit(client, resident)["id"]
    second = submit(client, resident, category="graffiti", location=MIDDLEHAVEN)["id"]
    photos = {
        (first, upload(client, resident, first, photo((200, 30, 30)))),
        (first, upload(client, resident, first, photo((30, 200, 30)))),
        (second, upload(client, resident, second, photo((30, 30, 200)))),
    }
    originals = {key: served(client, resident, *key) for key in photos}
    # A video processed before the backup, and one still in quarantine when it is taken.
    processed = upload_video(client, resident, first, phone_video(tmp_path / "a.mov"))
    assert work(live).ready == 1
    processed_bytes = client.get(video_url(first, processed), headers=resident).get_data()
    waiting = upload_video(client, resident, second, phone_video(tmp_path / "b.mov", seconds=1))

    folder = tmp_path / "backup"
    result = cli(live, "backup", str(folder))
    assert result.exit_code == 0, result.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"]["report"] == 2
    assert manifest["counts"]["report_photo"] == 3
    assert manifest["photos"] == 3
    assert manifest["counts"]["report_video"] == 2
    assert manifest["videos"] == 3  # the clean video, its poster and the quarantined original
    assert manifest["schema_revision"]
    # The same layout whichever store the media came from.
    assert len(stored_files(folder / "photos")) == 3
    assert [p.parent.name for p in stored_files(folder / "videos", recursive=True)].count(
        "quarantine"
    ) == 1

    # A backup from a newer release is refused, and nothing is touched.
    newer = tmp_path / "newer"
    shutil.copytree(folder, newer)
    (newer / "manifest.json").write_text(json.dumps({**manifest, "schema_revision": "f" * 12}))
    refused = cli(live, "restore", str(newer), "--yes")
    assert refused.exit_code != 0
    assert "newer than this release" in refused.output
    assert reports_held(live) == 2

    wipe(live, scratch_database, media_store)
    # Something stored after the backup: a restore puts back the backup's media, only that.
    live.extensions.pop(STORE_EXTENSION, None)  # a new process, as after a lost disk
    with live.app_context():
        photo_store().put("stray.jpg", photo((1, 2, 3)), "image/jpeg")

    restored = cli(live, "restore", str(folder), "--yes")
    assert restored.exit_code == 0, restored.output
    assert reports_held(live) == 2
    reconciled = cli(live, "reconcile")
    assert "mismatches: 0" in reconciled.output, reconciled.output
    assert reconciled.exit_code == 0
    for key, data in originals.items():
        assert served(client, resident, *key) == data
    assert "stray.jpg" not in [p.name for p in stored_files(media_store.folder("photos"))]
    live.extensions.pop(videos.STORE_EXTENSION, None)  # the store's folder was replaced
    assert client.get(video_url(first, processed), headers=resident).get_data() == processed_bytes
    # The quarantined original came back with its row: the worker finishes it.
    assert work(live).ready == 1
    assert client.get(video_url(second, waiting), headers=resident).status_code == 200


def test_an_unfinished_backup_is_not_restored(live, tmp_path):
    folder = tmp_path / "unfinished"
    folder.mkdir()
    (folder / "database.sqlite3").write_bytes(b"")
    result = cli(live, "restore", str(folder), "--yes")
    assert result.exit_code != 0
    assert "not a finished backup" in result.output


def test_a_backup_never_writes_into_a_folder_with_something_in_it(live, tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = cli(live, "backup", str(folder))
    assert result.exit_code != 0
    assert "not an empty folder" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
