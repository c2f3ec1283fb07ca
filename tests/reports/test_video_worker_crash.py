"""A media worker killed with SIGKILL half way through a video loses nothing and shows nothing
half made: the video stays ``processing`` until its lease runs out, then another worker makes it
``ready``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from copa import create_app
from copa.db import db
from copa.reports import videos
from copa.reports.models import Video
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, register_device
from tests.factories import scratch_database as scratch_db
from tests.reports.test_photos import make_report
from tests.reports.test_videos import files_in, phone_video, upload

ROOT = Path(__file__).resolve().parents[2]
# The worker, with its re-encode made to stop for good once the clean file is written (but
# before it is published): the moment a crash would be worst.
STALLING_WORKER = """
import os, pathlib, time
from copa import create_app
from copa.reports import media, videos

real = media.transcode

def stalling(*args, **kwargs):
    made = real(*args, **kwargs)
    pathlib.Path(os.environ["STALL_MARKER"]).write_text("encoded")
    time.sleep(600)
    return made

media.transcode = stalling
with create_app().app_context():
    videos.run_media_worker(once=True, owner="doomed")
"""


@pytest.fixture
def scratch_app(tmp_path, media_store):
    """Its own database, and its own media store: the local folders, then a bucket on moto's
    S3 server shared by this process and the worker's."""
    with scratch_db(tmp_path, "media") as url:
        app = create_app(
            {
                **TEST_SETTINGS,
                "DATABASE_URL": url,
                **media_store.settings(),
                "MEDIA_LEASE_SECONDS": 1,
            }
        )
        with app.app_context():
            upgrade()
        yield app, url
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def worker_environment(url: str, tmp_path: Path, media_store) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPA_")}
    env.update(
        {
            "COPA_ENV": "testing",
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_DATABASE_URL": url,
            **media_store.environment(),
            "COPA_MEDIA_LEASE_SECONDS": "1",
            "COPA_LOG_LEVEL": "ERROR",
            "STALL_MARKER": str(tmp_path / "stalled"),
        }
    )
    return env


def test_worker_killed_mid_video_leaves_it_to_the_next_worker(scratch_app, media_store, tmp_path):
    app, url = scratch_app
    client = app.test_client()
    resident = register_device(client)
    auth = bearer(resident["access_token"])
    report_id = make_report(app, resident["device_id"])
    accepted = upload(client, auth, report_id, phone_video(tmp_path / "v.mov", seconds=3))
    assert accepted.status_code == 202, accepted.get_json()
    video_id = accepted.get_json()["id"]
    video_url = f"/v1/reports/{report_id}/videos/{video_id}"

    errors = (tmp_path / "worker.err").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-c", STALLING_WORKER],
        cwd=ROOT,
        env=worker_environment(url, tmp_path, media_store),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        wait_for(
            lambda: (tmp_path / "stalled").exists() or worker.poll() is not None,
            60,
            "the worker to re-encode the video",
        )
        assert worker.poll() is None, (tmp_path / "worker.err").read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        errors.close()

    # Killed with the clean file made but not published: nothing half made is shown.
    with app.app_context():
        row = db.session.scalar(sa.select(Video).where(Video.id == uuid.UUID(video_id)))
        assert (row.state, row.lease_owner, row.attempts) == ("processing", "doomed", 1)
        db.session.close()
    assert client.get(video_url, headers=auth).status_code == 409
    assert (
        client.get(f"/v1/reports/{report_id}", headers=auth).get_json()["videos"][0]["state"]
        == "processing"
    )
    videos_dir = media_store.folder("videos")
    published = [p for p in files_in(videos_dir) if not p.name.startswith(".")]
    assert [p.parent.name for p in published] == ["quarantine"]  # only the original, unserved
    # Killed half way: its half-made files are in this host's work folder (the local store
    # itself, or the folder beside the bucket), never in the store.
    assert any(p.name.startswith(".making-") for p in files_in(media_store.scratch))

    time.sleep(2.2)  # the lease (1 s) has run out, and the half-made files are old enough
    with app.app_context():
        stats = videos.run_media_worker(once=True, owner="second")
    assert (stats.ready, stats.failed) == (1, 0)

    shown = client.get(f"/v1/reports/{report_id}", headers=auth).get_json()["videos"][0]
    assert shown["state"] == "ready"
    served = client.get(shown["url"], headers=auth)
    assert served.status_code == 200 and served.mimetype == "video/mp4"
    with app.app_context():
        row = db.session.scalar(sa.select(Video).where(Video.id == uuid.UUID(video_id)))
        assert (row.attempts, row.lease_owner) == (2, None)
    # The clean video and its poster; no original, no half-made file.
    assert sorted(p.suffix for p in files_in(videos_dir)) == [".jpg", ".mp4"]
    assert not any(p.name.startswith(".") for p in files_in(videos_dir))
    assert not any(p.name.startswith(".") for p in files_in(media_store.scratch))
