"""Videos of a resident's reports: taken into quarantine, made clean by the media worker,
served, purged.

An upload (MP4, MOV or 3GP, as phones record) is counted as it streams in and written to a
quarantine folder that nothing serves; its container header is read (no frame decoded) to refuse
one that is too long or not a video; then its row says ``processing``. The media worker
(``flask copa media-worker``) claims it with a lease, as the outbox relay claims messages,
re-encodes it with no metadata (copa/reports/media.py), makes its poster through the photo
cleaner, and in one transaction moves the finished files into view and marks it ``ready``;
the quarantined original is deleted after. A worker killed half way leaves the video
``processing`` with a lease that runs out, and another worker (or the same, restarted) takes it
again; one that keeps killing workers is ``failed`` after ``MAX_ATTEMPTS``.

With COPA_MEDIA_STORE_URL=s3://... (copa/objectstore.py) the same happens in a bucket that web
hosts and worker hosts share: originals under ``videos/quarantine/``, results under ``videos/``,
each PUT whole before the row that names it commits (and deleted if it does not); the worker
downloads an original into its local folder to process it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import FileStorage

from copa import objectstore
from copa.db import abandon, db, lease_owner, utcnow, write
from copa.reports import media
from copa.reports.models import Report, Video, VideoState
from copa.reports.photos import PhotoUnreadable, clean_image, media_bucket
from copa.reports.service import ReportNotFound
from copa.settings import settings
from copa.web.access import Principal
from copa.web.problems import Conflict, NotFound, Problem, Unprocessable, problem_type

log = logging.getLogger(__name__)

STORE_EXTENSION = "copa_video_store"
CHUNK = 256 * 1024
MAX_ATTEMPTS = 3  # a video that kills the worker this often is failed, not tried for ever
VIDEO_TYPE = "video/mp4"
POSTER_TYPE = "image/jpeg"


# --- problems -------------------------------------------------------------------------------


class VideoNotFound(NotFound):
    type = problem_type("video-not-found")


class VideoNotReady(Conflict):
    type = problem_type("video-not-ready")


class VideoLimitReached(Conflict):
    type = problem_type("video-limit")


class VideoTooLarge(Problem):
    status = 413
    title = "Content Too Large"
    type = problem_type("video-too-large")

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"A video may be at most {max_bytes // (1024 * 1024)} MiB.", reason="too_large"
        )


class VideoRefused(Unprocessable):
    """The upload is not a video this service takes; ``reason`` is the same word as a failed
    video's ``failure_reason``."""

    type = problem_type("video-invalid")

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, errors={"video": [detail]}, reason=reason)


class VideoTooLong(VideoRefused):
    type = problem_type("video-too-long")


def _refused(reason: str, max_seconds: float) -> VideoRefused:
    if reason == media.TOO_LONG:
        return VideoTooLong(reason, f"A video may be at most {max_seconds:g} seconds long.")
    if reason == media.TOO_MANY_PIXELS:
        return VideoRefused(reason, "The video's frames are larger than 4K; send a smaller one.")
    return VideoRefused(
        reason, "The video could not be read: send a complete MP4, MOV or 3GP video."
    )


# --- storage --------------------------------------------------------------------------------


class VideoStore:
    """Videos and posters as files in one directory; originals in its ``quarantine`` folder,
    which nothing serves. Files appear whole (written under a temporary name, then renamed)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.quarantine = self.directory / "quarantine"
        self.quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / _checked(key)

    def quarantined(self, key: str) -> Path:
        return self.quarantine / _checked(key)

    def temporary(self, suffix: str) -> Path:
        """A fresh name for a file being made; invisible until ``publish``."""
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=".making-", suffix=suffix)
        os.close(fd)
        return Path(name)

    @contextmanager
    def receiving(self, stream: IO[bytes], max_bytes: int) -> Iterator[tuple[Path, int]]:
        """Copy an upload into a file of its own, beside the quarantined originals
        (``VideoTooLarge`` past ``max_bytes``); its path and size. Gone after, unless admitted."""
        fd, name = tempfile.mkstemp(dir=self.quarantine, prefix=".incoming-", suffix=".part")
        try:
            yield Path(name), _copy_counted(fd, stream, max_bytes)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(name)

    def admit(self, received: Path, key: str) -> None:
        """A received upload becomes the quarantined original ``key``."""
        os.replace(received, self.quarantined(key))

    @contextmanager
    def original(self, key: str) -> Iterator[Path]:
        """The quarantined original as a local file (``FileNotFoundError`` if it is gone)."""
        path = self.quarantined(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def publish(self, temporary: Path, key: str, content_type: str) -> None:
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.path(key))
        with suppress(OSError):
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def source(self, key: str) -> Path | None:
        """What a response sends for a published file; ``None`` when it is missing."""
        path = self.path(key)
        return path if path.is_file() else None

    def delete(self, key: str) -> None:
        self.forget(self.path(key))

    def delete_quarantined(self, key: str) -> None:
        self.forget(self.quarantined(key))

    def sweep(self, older_than: float) -> int:
        """Delete half-made files (of a worker or upload killed half way) untouched for
        ``older_than`` seconds; how many. A live one is written to all the time."""
        return _sweep(
            [*self.directory.glob(".making-*"), *self.quarantine.glob(".incoming-*")], older_than
        )

    def forget(self, *paths: Path | None) -> None:
        _forget_files(*paths)


class S3VideoStore:
    """Videos and posters as objects under ``videos/`` of a bucket, originals under
    ``videos/quarantine/`` (which nothing serves), so web hosts and media workers on other
    machines share them. Work in progress (uploads being received, originals being processed,
    results being made) is in files of a local ``scratch`` folder; a PUT makes an object
    appear whole."""

    def __init__(self, bucket: objectstore.Bucket, scratch: str | os.PathLike[str]) -> None:
        self.bucket = bucket
        self.base = objectstore.VIDEOS
        self.quarantine_base = objectstore.QUARANTINE
        self.scratch = Path(scratch)
        self.scratch.mkdir(mode=0o700, parents=True, exist_ok=True)

    def temporary(self, suffix: str) -> Path:
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix=".making-", suffix=suffix)
        os.close(fd)
        return Path(name)

    @contextmanager
    def receiving(self, stream: IO[bytes], max_bytes: int) -> Iterator[tuple[Path, int]]:
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix=".incoming-", suffix=".part")
        try:
            yield Path(name), _copy_counted(fd, stream, max_bytes)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(name)

    def admit(self, received: Path, key: str) -> None:
        self.bucket.put_file(self.quarantine_base + _checked(key), received)

    @contextmanager
    def original(self, key: str) -> Iterator[Path]:
        """The quarantined original, downloaded into a local temporary file for PyAV."""
        local = self.temporary(".upload")
        try:
            try:
                self.bucket.download(self.quarantine_base + _checked(key), local)
            except objectstore.MissingObject:
                raise FileNotFoundError(key) from None
            yield local
        finally:
            _forget_files(local)

    def publish(self, temporary: Path, key: str, content_type: str) -> None:
        self.bucket.put_file(self.base + _checked(key), temporary, content_type)
        _forget_files(temporary)

    def source(self, key: str) -> objectstore.StoredObject | None:
        name = self.base + _checked(key)
        info = self.bucket.head(name)
        return None if info is None else objectstore.StoredObject(self.bucket, name, info)

    def delete(self, key: str) -> None:
        self._delete(self.base + _checked(key))

    def delete_quarantined(self, key: str) -> None:
        self._delete(self.quarantine_base + _checked(key))

    def _delete(self, name: str) -> None:
        try:
            self.bucket.delete(name)
        except Exception:  # noqa: BLE001 - an orphan object; the caller's outcome stands
            log.warning("could not delete video object %s", name, exc_info=True)

    def sweep(self, older_than: float) -> int:
        """Delete this host's half-made files of killed workers or uploads."""
        return _sweep(
            [*self.scratch.glob(".making-*"), *self.scratch.glob(".incoming-*")], older_than
        )

    def forget(self, *paths: Path | None) -> None:
        _forget_files(*paths)


def _copy_counted(fd: int, stream: IO[bytes], max_bytes: int) -> int:
    size = 0
    with os.fdopen(fd, "wb") as handle:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise VideoTooLarge(max_bytes)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return size


def _sweep(leftovers: Iterable[Path], older_than: float) -> int:
    cutoff = time.time() - older_than
    swept = 0
    for path in leftovers:
        with suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                swept += 1
    return swept


def _forget_files(*paths: Path | None) -> None:
    for path in paths:
        if path is None:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not delete video file %s", path.name, exc_info=True)


def _checked(key: str) -> str:
    if not key or "/" in key or key.startswith(".") or ".." in key or len(key) > 200:
        raise ValueError(f"invalid video storage key {key!r}")
    return key


def video_store() -> VideoStore | S3VideoStore:
    """The application's video store: the folder COPA_VIDEO_STORAGE_DIR (default: ``videos``
    in the file: URL's folder, or in instance/), or ``videos/`` of the COPA_MEDIA_STORE_URL
    bucket, that folder then holding only work in progress."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get(STORE_EXTENSION)
    if store is None:
        config = settings()
        location = objectstore.parse_media_store_url(config.media_store_url)
        if isinstance(location, objectstore.S3Location):
            scratch = config.video_storage_dir or Path(app.instance_path) / "videos"
            made: VideoStore | S3VideoStore = S3VideoStore(media_bucket(location), scratch)
        else:
            root = location or Path(app.instance_path)
            made = VideoStore(config.video_storage_dir or root / "videos")
        store = app.extensions.setdefault(STORE_EXTENSION, made)
    return store


# --- upload ---------------------------------------------------------------------------------


def upload_allowance() -> int:
    """The most a video upload's body may be: the video and a multipart envelope."""
    return settings().video_max_bytes + 64 * 1024


def add_video(principal: Principal, report_id: uuid.UUID, upload: FileStorage) -> Video:
    """Take a video for the resident's own report into quarantine, ``processing``.

    Its size is counted as it is copied and its length read from the container's header, both
    before anything is decoded. The filename and Content-Type are ignored.
    """
    config = settings()
    _room_for_a_video(principal, report_id, config.video_max_per_report)
    store = video_store()
    key = f"{uuid.uuid4().hex}.upload"
    with store.receiving(upload.stream, config.video_max_bytes) as (received, size):
        if size == 0:
            raise VideoRefused(media.UNREADABLE, "The video is empty.")
        try:
            media.probe(received, config.video_max_seconds)
        except media.MediaRefused as refused:
            raise _refused(refused.reason, config.video_max_seconds) from None
        try:
            # In quarantine (whole: a rename, or one PUT) before the row is written, and not
            # while the write lock is held (an upload to a bucket takes a while).
            store.admit(received, key)
            with write():
                _room_for_a_video(principal, report_id, config.video_max_per_report)
                video = Video(report_id=report_id, quarantine_key=key, upload_bytes=size)
                db.session.add(video)
        except BaseException:
            store.delete_quarantined(key)
            raise
    return video


def _room_for_a_video(principal: Principal, report_id: uuid.UUID, limit: int) -> None:
    owned = db.session.scalar(
        sa.select(Report.id).where(Report.id == report_id, Report.device_id == principal.id)
    )
    if owned is None:
        raise ReportNotFound("No such report.")
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Video)
        .where(Video.report_id == report_id, Video.state != VideoState.FAILED)
    )
    if count >= limit:
        raise VideoLimitReached(f"A report can have at most {limit} videos.")


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoFile:
    """A ready video's (or its poster's) file, or object in the bucket, and type, as a view
    serves it (copa.web.responses.private_file)."""

    source: Path | objectstore.StoredObject
    content_type: str


def video_file(video: Video | None, poster: bool = False) -> VideoFile:
    """The file of a video the caller may see (their check is done): 409 until it is ready."""
    if video is None:
        raise VideoNotFound("No such video.")
    if video.state == VideoState.PROCESSING:
        raise VideoNotReady("The video is still being processed.")
    if video.state != VideoState.READY:
        raise VideoNotFound("The video could not be processed.")
    key = video.poster_key if poster else video.storage_key
    source = video_store().source(key)
    if source is None:
        log.error("video %s has no stored file", video.id)
        raise VideoNotFound("No such video.")
    return VideoFile(source, POSTER_TYPE if poster else VIDEO_TYPE)


def own_video(
    principal: Principal, report_id: uuid.UUID, video_id: uuid.UUID, poster: bool = False
) -> VideoFile:
    """A video (or poster) of the resident's own report."""
    video = db.session.scalar(
        sa.select(Video)
        .join(Report, Report.id == Video.report_id)
        .where(
            Video.id == video_id,
            Video.report_id == report_id,
            Report.device_id == principal.id,
        )
    )
    return video_file(video, poster)


def staff_video(report_id: uuid.UUID, video_id: uuid.UUID, poster: bool = False) -> VideoFile:
    """A video (or poster) of any report, for staff."""
    video = db.session.scalar(
        sa.select(Video).where(Video.id == video_id, Video.report_id == report_id)
    )
    return video_file(video, poster)


# --- the media worker -----------------------------------------------------------------------


class LeaseLost(Exception):
    """Another worker holds the video now (this one was stopped past its lease)."""


@dataclass
class WorkerStats:
    ready: int = 0
    failed: int = 0
    lost: int = 0

    def __str__(self) -> str:
        return f"ready {self.ready}, failed {self.failed}, leases lost {self.lost}"


def run_media_worker(
    once: bool = False, owner: str | None = None, *, stop: threading.Event | None = None
) -> WorkerStats:
    """Process waiting videos until ``stop`` is set; with ``once``, until none waits."""
    owner = owner or lease_owner()
    stop = stop or threading.Event()
    stats = WorkerStats()
    log.info("media worker %s started", owner)
    swept = video_store().sweep(older_than=2 * settings().media_lease_seconds)
    if swept:
        log.info("media worker %s: %d half-made files of killed workers deleted", owner, swept)
    try:
        while not stop.is_set():
            try:
                video_id = claim_video(owner)
                if video_id is not None:
                    process_video(video_id, owner, stats)
            except SQLAlchemyError:
                abandon()
                if once:
                    raise
                log.exception("media worker %s: database error; trying again shortly", owner)
                video_id = None
            if video_id is None:
                if once:
                    break
                stop.wait(settings().media_poll_seconds)
    finally:
        db.session.close()
    log.info("media worker %s stopped: %s", owner, stats)
    return stats


def claim_video(owner: str) -> uuid.UUID | None:
    """Lease the oldest waiting video whose lease is free (SKIP LOCKED on PostgreSQL, BEGIN
    IMMEDIATE on SQLite, as the relay claims), or fail one that has killed workers too often."""
    db.session.close()
    lease = timedelta(seconds=settings().media_lease_seconds)
    while True:
        with write():
            now = utcnow()
            video = db.session.scalar(
                sa.select(Video)
                .where(
                    Video.state == VideoState.PROCESSING,
                    sa.or_(Video.lease_until.is_(None), Video.lease_until < now),
                )
                .order_by(Video.created_at, Video.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if video is None:
                return None
            if video.attempts >= MAX_ATTEMPTS:
                quarantined = video.quarantine_key
                _fail(video, media.UNPROCESSABLE)
            else:
                video.attempts += 1
                video.lease_owner, video.lease_until = owner, now + lease
                return video.id
        _forget_quarantined(quarantined)


def process_video(video_id: uuid.UUID, owner: str, stats: WorkerStats) -> None:
    """Re-encode a claimed video and make its poster, then show it (or fail it) at once."""
    store = video_store()
    config = settings()
    video = db.session.get(Video, video_id)
    quarantine_key = video.quarantine_key
    db.session.close()  # no transaction open while decoding
    target = store.temporary(".mp4")
    poster_file = store.temporary(".jpg")
    renewed = time.monotonic()

    def keep_lease() -> None:
        nonlocal renewed
        if time.monotonic() - renewed > config.media_lease_seconds / 3:
            _renew(video_id, owner, config.media_lease_seconds)
            renewed = time.monotonic()

    try:
        try:
            with store.original(quarantine_key) as source:
                encoded = media.transcode(source, target, config.video_max_seconds, keep_lease)
            poster = clean_image(encoded.poster_png, config.photo_max_pixels)
            poster_file.write_bytes(poster.data)
        except media.MediaRefused as refused:
            outcome = _finish(video_id, owner, failed=refused.reason)
        except PhotoUnreadable:
            outcome = _finish(video_id, owner, failed=media.UNDECODABLE)
        except FileNotFoundError:
            outcome = _finish(video_id, owner, failed=media.UNREADABLE)
        else:
            outcome = _finish(video_id, owner, encoded=encoded, files=(target, poster_file))
    except LeaseLost:
        outcome = "lost"
    finally:
        store.forget(target, poster_file)  # published ones were renamed away already
    if outcome == "lost":
        stats.lost += 1
        return
    if outcome == VideoState.READY:
        stats.ready += 1
    else:
        stats.failed += 1
    store.delete_quarantined(quarantine_key)


def _held(video_id: uuid.UUID, owner: str) -> Video:
    video = db.session.scalar(
        sa.select(Video)
        .where(
            Video.id == video_id,
            Video.lease_owner == owner,
            Video.state == VideoState.PROCESSING,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if video is None:
        raise LeaseLost(str(video_id))
    return video


def _renew(video_id: uuid.UUID, owner: str, seconds: float) -> None:
    db.session.close()
    with write():
        _held(video_id, owner).lease_until = utcnow() + timedelta(seconds=seconds)
    db.session.close()


def _finish(
    video_id: uuid.UUID,
    owner: str,
    *,
    failed: str | None = None,
    encoded: media.Encoded | None = None,
    files: tuple[Path, Path] | None = None,
) -> str:
    """One transaction: the finished files become visible under their keys and the row says
    ``ready`` (or ``failed``); if it does not commit, the files go again."""
    store = video_store()
    db.session.close()
    published: list[str] = []
    try:
        with write():
            video = _held(video_id, owner)
            if failed is not None:
                _fail(video, failed)
                return VideoState.FAILED
            stem = uuid.uuid4().hex
            video_key, poster_key = f"{stem}.mp4", f"{stem}.jpg"
            target, poster_file = files
            size = target.stat().st_size
            # Published (renamed, or uploaded whole) before the row commits; gone if it does not.
            published.append(video_key)
            store.publish(target, video_key, VIDEO_TYPE)
            published.append(poster_key)
            store.publish(poster_file, poster_key, POSTER_TYPE)
            video.state = VideoState.READY
            video.storage_key, video.poster_key = video_key, poster_key
            video.content_type = VIDEO_TYPE
            video.width, video.height = encoded.width, encoded.height
            video.duration_seconds = encoded.duration
            video.size_bytes = size
            video.ready_at = utcnow()
            video.quarantine_key = None
            video.lease_owner = video.lease_until = None
            return VideoState.READY
    except BaseException:
        for key in published:
            store.delete(key)
        raise
    finally:
        db.session.close()


def _fail(video: Video, reason: str) -> None:
    video.state = VideoState.FAILED
    video.failure_reason = reason
    video.quarantine_key = None
    video.lease_owner = video.lease_until = None


def _forget_quarantined(key: str | None) -> None:
    if key:
        video_store().delete_quarantined(key)


# --- retention ------------------------------------------------------------------------------


def purge_expired_videos() -> int:
    """Delete videos (rows, then files) older than COPA_PHOTO_RETENTION_DAYS, as photos are;
    returns how many."""
    days = settings().photo_retention_days
    with write():
        rows = db.session.execute(
            sa.delete(Video)
            .where(Video.created_at < utcnow() - timedelta(days=days))
            .returning(Video.storage_key, Video.poster_key, Video.quarantine_key),
            execution_options={"synchronize_session": False},
        ).all()
    store = video_store()
    for storage_key, poster_key, quarantine_key in rows:
        for key in (storage_key, poster_key):
            if key:
                store.delete(key)
        if quarantine_key:
            store.delete_quarantined(quarantine_key)
    return len(rows)
