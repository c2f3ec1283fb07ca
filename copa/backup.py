"""Backups (``flask copa backup DIR``) and restores (``flask copa restore DIR``).

A backup is a folder: the database, the photo store (COPA_PHOTO_STORAGE_DIR, every file), the
video store (COPA_VIDEO_STORAGE_DIR, its quarantined originals included) and ``manifest.json``
(when, the schema revision, the rows of each table, the media files), written last,
so a folder without it is an unfinished backup that restore refuses. With media in a bucket
(COPA_MEDIA_STORE_URL=s3://...), its objects under ``photos/`` and ``videos/`` are downloaded
into the same ``photos`` and ``videos`` folders, and a restore uploads them again and deletes
the objects under those prefixes that the backup does not hold.

- SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies a consistent
  database while the service runs; the row counts are read from the copy itself.
- PostgreSQL: ``pg_dump -Fc`` (custom format), taken on a snapshot exported from a transaction
  that counts the rows on that same snapshot; ``pg_restore --clean --if-exists`` puts it back.
  pg_dump and pg_restore (the PostgreSQL client tools, as new as the server) must be on PATH.

The database is copied before the media, so every photo or video a backed-up row names is in
the copy (one uploaded meanwhile is an extra file, which nothing names). Restore refuses a backup
taken with a schema revision this code does not know (a newer release's): restore it with that
release. A backup from an older revision restores, then ``flask db upgrade`` brings it forward.
Stop the web, relay and scheduler processes before restoring; restore replaces everything.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app

from copa import objectstore
from copa.db import db, snapshot
from copa.reports.photos import photo_store
from copa.reports.videos import video_store

MANIFEST = "manifest.json"
FORMAT = 1
_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}
_PHOTOS = "photos"
_VIDEOS = "videos"


class BackupError(RuntimeError):
    """The backup or restore cannot be done, or did not come out whole; the message says why."""


@dataclass(frozen=True)
class Manifest:
    format: int
    created_at: str  # ISO 8601, UTC
    database: str  # sqlite or postgresql
    schema_revision: str | None  # alembic_version of the backed-up database
    counts: dict[str, int]  # rows in each table
    photos: int  # files in the photo store
    database_file: str
    videos: int = 0  # files in the video store, quarantined originals included


# --- backup ---------------------------------------------------------------------------------


def backup(directory: Path) -> Manifest:
    """Write a backup of the database and the media stores into ``directory`` (new or empty)."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} exists and is not an empty folder")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # residents' data: owner only
    engine = db.engine
    kind = engine.dialect.name
    if kind not in _FILES:
        raise BackupError(f"cannot back up a {kind} database")
    target = directory / _FILES[kind]
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    if kind == "sqlite":
        revision, counts = _backup_sqlite(engine, target)
    else:
        revision, counts = _backup_postgresql(engine, target)
    os.chmod(target, 0o600)
    photos = _save_media(photo_store(), directory / _PHOTOS)
    videos = _save_media(video_store(), directory / _VIDEOS)
    manifest = Manifest(FORMAT, created_at, kind, revision, counts, photos, target.name, videos)
    _write_manifest(directory, manifest)
    return manifest


def _backup_sqlite(engine: sa.Engine, target: Path) -> tuple[str | None, dict[str, int]]:
    source = _sqlite_path(engine)
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)  # page by page, consistent, while others go on writing
    copy_engine = sa.create_engine(f"sqlite:///{target}", poolclass=sa.pool.NullPool)
    try:
        with copy_engine.connect() as connection:
            return _revision(connection), _counts(connection)
    finally:
        copy_engine.dispose()


def _backup_postgresql(engine: sa.Engine, target: Path) -> tuple[str | None, dict[str, int]]:
    with snapshot() as session:
        connection = session.connection()
        # pg_dump reads the very snapshot the counts are taken on.
        exported = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
        _run(
            ["pg_dump", "--format=custom", f"--snapshot={exported}", f"--file={target}"],
            engine.url,
        )
        return _revision(connection), _counts(connection)


# --- restore --------------------------------------------------------------------------------


def read_manifest(directory: Path) -> Manifest:
    """The manifest of the backup in ``directory``; ``BackupError`` when it is not one."""
    try:
        data = json.loads((directory / MANIFEST).read_text())
        manifest = Manifest(**data)
    except FileNotFoundError as error:
        raise BackupError(f"{directory} has no {MANIFEST}: not a finished backup") from error
    except (ValueError, TypeError) as error:
        raise BackupError(f"{directory / MANIFEST} is not a backup manifest") from error
    if manifest.format != FORMAT:
        raise BackupError(f"backup format {manifest.format} is not one this release reads")
    return manifest


def check_restorable(directory: Path) -> Manifest:
    """The backup's manifest, once it is known to be restorable here; ``BackupError`` if not."""
    manifest = read_manifest(directory)
    kind = db.engine.dialect.name
    if manifest.database != kind:
        raise BackupError(f"this is a {manifest.database} backup; the database is {kind}")
    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    known = {revision.revision for revision in scripts.walk_revisions()}
    if manifest.schema_revision is not None and manifest.schema_revision not in known:
        raise BackupError(
            f"the backup's schema revision {manifest.schema_revision} is newer than this "
            f"release's ({', '.join(scripts.get_heads())}): restore it with the release that "
            "made it"
        )
    if not (directory / manifest.database_file).is_file():
        raise BackupError(f"{directory} has no {manifest.database_file}")
    return manifest


def restore(directory: Path) -> Manifest:
    """Replace the database and the media stores with the backup in ``directory``."""
    manifest = check_restorable(directory)
    engine = db.engine
    db.session.remove()
    engine.dispose()  # no connection of ours holds the old database
    source = directory / manifest.database_file
    if manifest.database == "sqlite":
        target = _sqlite_path(engine)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(source)) as saved, closing(sqlite3.connect(target)) as live:
            saved.backup(live)
    else:
        _ensure_postgresql_database(engine.url)
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                str(source),
            ],
            engine.url,
        )
    engine.dispose()
    with engine.connect() as connection:
        counts = _counts(connection)
    if counts != manifest.counts:
        differ = sorted(
            name
            for name in set(counts) | set(manifest.counts)
            if counts.get(name) != manifest.counts.get(name)
        )
        raise BackupError("restored database differs from the manifest in: " + ", ".join(differ))
    _restore_media(directory / _PHOTOS, photo_store())
    if (directory / _VIDEOS).is_dir():  # a backup made before videos has none
        _restore_media(directory / _VIDEOS, video_store())
    return manifest


# --- helpers --------------------------------------------------------------------------------


def _sqlite_path(engine: sa.Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("an in-memory SQLite database has no file to back up")
    return Path(database)


def _revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def _counts(connection: sa.Connection) -> dict[str, int]:
    names = sorted(set(sa.inspect(connection).get_table_names()) - {"alembic_version"})
    return {
        name: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
        for name in names
    }


def _save_media(store: object, target: Path) -> int:
    """Copy a media store (a folder, or its objects in a bucket) into ``target``; how many
    files."""
    bucket = getattr(store, "bucket", None)
    if bucket is not None:
        return _download_objects(bucket, store.base, target)  # type: ignore[attr-defined]
    directory = getattr(store, "directory", None)
    if directory is None:
        raise BackupError("this media store cannot be backed up here")
    return _copy_media(Path(directory), target)


def _restore_media(saved: Path, store: object) -> None:
    bucket = getattr(store, "bucket", None)
    if bucket is not None:
        _upload_objects(saved, bucket, store.base)  # type: ignore[attr-defined]
    else:
        _replace_media(saved, Path(store.directory))  # type: ignore[attr-defined]


def _download_objects(bucket: objectstore.Bucket, base: str, target: Path) -> int:
    """Every object under ``base`` into ``target``, in the local store's layout (``videos/``
    and ``videos/quarantine/`` as the folders are)."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    count = 0
    for name in bucket.names(base):
        if name.endswith("/"):  # a "folder" some tools make: no file
            continue
        relative = _relative(name, base)
        path = target / relative
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        bucket.download(name, path)
        count += 1
    return count


def _upload_objects(saved: Path, bucket: objectstore.Bucket, base: str) -> None:
    """The bucket's objects under ``base`` become the backup's files: each uploaded (a PUT
    replaces an object whole), then those the backup does not have are deleted."""
    kept: set[str] = set()
    for path in sorted(saved.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        name = base + path.relative_to(saved).as_posix()
        bucket.put_file(name, path, _content_type(path.name))
        kept.add(name)
    for name in list(bucket.names(base)):
        if name not in kept:
            bucket.delete(name)


def _relative(name: str, base: str) -> str:
    relative = name[len(base) :]
    parts = relative.split("/")
    if not relative or any(part in ("", ".", "..") for part in parts):
        raise BackupError(f"the bucket holds an object this backup cannot copy: {name!r}")
    return relative


def _content_type(name: str) -> str | None:
    return {".jpg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4"}.get(
        Path(name).suffix.lower()
    )


def _skip_partial(_folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name.startswith(".")]  # files still being written


def _copy_media(store: Path, target: Path) -> int:
    shutil.copytree(store, target, ignore=_skip_partial)
    return sum(1 for path in target.rglob("*") if path.is_file())


def _replace_media(saved: Path, store: Path) -> None:
    """The store becomes the backup's copy: built beside it, then swapped in by renames."""
    store.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(dir=store.parent, prefix=f".{store.name}-restoring-"))
    shutil.copytree(saved, incoming, dirs_exist_ok=True)
    os.chmod(incoming, 0o700)
    old = store.with_name(f".{store.name}-replaced")
    if store.exists():
        shutil.rmtree(old, ignore_errors=True)
        store.rename(old)
    incoming.rename(store)
    shutil.rmtree(old, ignore_errors=True)


def _write_manifest(directory: Path, manifest: Manifest) -> None:
    partial = directory / f".{MANIFEST}.part"
    partial.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
    partial.rename(directory / MANIFEST)


def _libpq(url: sa.URL, database: str | None = None) -> tuple[str, dict[str, str]]:
    """A libpq connection string for ``url`` (its password in PGPASSWORD, not on a command
    line that ``ps`` shows), and the environment to run the tool in."""
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    if database is not None:
        plain = plain.set(database=database)
    return plain.render_as_string(hide_password=False), environment


def _run(command: list[str], url: sa.URL) -> None:
    conninfo, environment = _libpq(url)
    command = [*command, f"--dbname={conninfo}"]
    try:
        result = subprocess.run(command, env=environment, capture_output=True, text=True)
    except FileNotFoundError as error:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)") from error
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")


def _ensure_postgresql_database(url: sa.URL) -> None:
    """Create the database named in COPA_DATABASE_URL when it is not there (it was dropped)."""
    server = sa.create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": url.database},
            )
            if not exists:
                name = connection.dialect.identifier_preparer.quote(url.database)
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        server.dispose()
