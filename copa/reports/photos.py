"""Photos of a resident's reports: checked from their content, re-encoded, stored, served, purged.

A photo (JPEG, PNG, or HEIC/HEIF as iPhones take them) is stored only after it has been decoded
and written again from its pixels alone, upright (EXIF orientation applied), so no EXIF, GPS,
comment, XMP or ICC data can survive, nor a HEIF's thumbnails or auxiliary images. The bytes live
in a ``PhotoStore`` (a directory by default, or a bucket: COPA_MEDIA_STORE_URL); the database
row says what they are. Files are written before the row is committed and removed again if that
commit fails, so there is never a row without its file.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
import tempfile
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener
from werkzeug.datastructures import FileStorage

from copa import objectstore
from copa.db import db, utcnow, write
from copa.reports.models import Photo, Report
from copa.reports.service import ReportNotFound
from copa.settings import settings
from copa.web.access import Principal
from copa.web.problems import Conflict, NotFound, Problem, Unprocessable, problem_type

log = logging.getLogger(__name__)

# iPhones take HEIC (HEIF holding HEVC) by default. pillow-heif is the maintained Pillow plugin
# for it and ships libheif with its HEVC decoder in its wheels, so no system library is needed.
# Embedded thumbnails, depth maps and other auxiliary images are never read: only the primary
# image's pixels are kept, so a thumbnail that shows something else (or carries its own metadata)
# cannot reach the stored photo, and no memory is spent decoding them.
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
_READABLE_FORMATS = ("JPEG", "PNG", "HEIF")  # told apart by content, never by name or type

STORE_EXTENSION = "copa_photo_store"  # app.extensions key of the cached store
JPEG_QUALITY = 85
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# What a hostile or broken file can make Pillow raise while it is opened, decoded or turned
# upright (its EXIF is parsed too); each means "not a photo we can take", never a 500.
_UNREADABLE = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,  # Pillow's "not a PNG file", "broken PNG file"
    ValueError,
    TypeError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    Image.DecompressionBombError,
)


# --- problems -------------------------------------------------------------------------------


class PhotoNotFound(NotFound):
    type = problem_type("photo-not-found")


class PhotoLimitReached(Conflict):
    type = problem_type("photo-limit")


class PhotoTooLarge(Problem):
    status = 413
    title = "Content Too Large"
    type = problem_type("photo-too-large")


class PhotoUnreadable(Unprocessable):
    type = problem_type("photo-invalid")

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(detail, errors={"photo": [message]})


class PhotoTooManyPixels(PhotoUnreadable):
    type = problem_type("photo-too-many-pixels")


# --- storage --------------------------------------------------------------------------------


class StoredPhotoMissing(LookupError):
    """The store has nothing under that key."""


class PhotoStore(Protocol):
    """Where the bytes of photos live, by opaque key (never a name a resident chose)."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; ``StoredPhotoMissing`` if there are none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is already gone."""
        ...


class LocalPhotoStore:
    """Photos as files in one directory, each written whole or not at all."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys are ours (UUID-based), but refuse anything that could leave the directory.
        if not _KEY.fullmatch(key) or ".." in key:
            raise ValueError(f"invalid photo storage key {key!r}")
        return self.directory / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(self.directory)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise StoredPhotoMissing(key) from error

    def delete(self, key: str) -> None:
        with suppress(FileNotFoundError):
            self._path(key).unlink()


class S3PhotoStore:
    """Photos as objects under ``photos/`` of a bucket; a PUT is whole or nothing."""

    def __init__(self, bucket: objectstore.Bucket) -> None:
        self.bucket = bucket
        self.base = objectstore.PHOTOS

    def _name(self, key: str) -> str:
        if not _KEY.fullmatch(key) or ".." in key:
            raise ValueError(f"invalid photo storage key {key!r}")
        return self.base + key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.bucket.put_bytes(self._name(key), data, content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.bucket.get_bytes(self._name(key))
        except objectstore.MissingObject as error:
            raise StoredPhotoMissing(key) from error

    def delete(self, key: str) -> None:
        self.bucket.delete(self._name(key))


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def photo_store() -> PhotoStore:
    """The application's photo store: ``photos/`` of the COPA_MEDIA_STORE_URL bucket, or the
    folder COPA_PHOTO_STORAGE_DIR (default: ``photos`` in the file: URL's folder, or in
    instance/)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get(STORE_EXTENSION)
    if store is None:
        config = settings()
        location = objectstore.parse_media_store_url(config.media_store_url)
        if isinstance(location, objectstore.S3Location):
            made: PhotoStore = S3PhotoStore(media_bucket(location))
        else:
            root = location or Path(app.instance_path)
            made = LocalPhotoStore(config.photo_storage_dir or root / "photos")
        store = app.extensions.setdefault(STORE_EXTENSION, made)
    return store


BUCKET_EXTENSION = "copa_media_buckets"


def media_bucket(location: objectstore.S3Location) -> objectstore.Bucket:
    """The application's bucket for media; one S3 client a server (boto3 clients are
    thread-safe, and each costs a while to make)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    clients = app.extensions.setdefault(BUCKET_EXTENSION, {})
    server = (location.endpoint_url, location.region)
    if server not in clients:
        clients[server] = objectstore.Bucket(location).client
    return objectstore.Bucket(location, clients[server])


# --- re-encoding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanImage:
    """A photo re-encoded from its pixels, with nothing else in it."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def clean_image(data: bytes, max_pixels: int) -> CleanImage:
    """Decode ``data`` (JPEG, PNG or HEIC/HEIF) and encode its pixels again, upright.

    The format comes from the content alone. A HEIC photo is stored as JPEG: every browser,
    phone and partner system shows JPEG, while HEIC shows in few browsers beyond Safari. Raises ``PhotoUnreadable`` for anything else
    (including truncated files) and ``PhotoTooManyPixels`` before decoding an image whose header
    declares more than ``max_pixels``.
    """
    if not data:
        raise PhotoUnreadable("The photo is empty.", "Empty file.")
    try:
        with Image.open(io.BytesIO(data), formats=_READABLE_FORMATS) as image:
            if image.format not in (*_READABLE_FORMATS, "MPO"):  # MPO: a JPEG from some cameras
                raise _not_a_photo()
            width, height = image.size
            if width < 1 or height < 1:
                raise _not_a_photo()
            if width * height > max_pixels:
                raise _too_many_pixels(max_pixels)
            # Truncated data raises here (ImageFile.LOAD_TRUNCATED_IMAGES stays off; libheif
            # refuses an item whose data runs past the end of the file).
            image.load()
            keep_alpha = image.format == "PNG" and _has_alpha(image)
            # HEIF: libheif has already turned it upright (irot/imir) and pillow-heif reset the
            # EXIF orientation to 1, so this does nothing more for it.
            upright = ImageOps.exif_transpose(image)
            pixels = upright.convert("RGBA" if keep_alpha else "RGB")
    except Image.DecompressionBombError as error:
        raise _too_many_pixels(max_pixels) from error
    except _UNREADABLE as error:
        raise _not_a_photo() from error

    # A fresh image that holds the pixels and nothing else: no info, no EXIF, no ICC profile.
    fresh = Image.new(pixels.mode, pixels.size)
    fresh.paste(pixels)
    out = io.BytesIO()
    if keep_alpha:
        fresh.save(out, format="PNG")
        content_type, extension = "image/png", "png"
    else:
        fresh.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        content_type, extension = "image/jpeg", "jpg"
    return CleanImage(out.getvalue(), content_type, extension, fresh.width, fresh.height)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _not_a_photo() -> PhotoUnreadable:
    return PhotoUnreadable(
        "The photo could not be read: send a complete JPEG, PNG or HEIC image.",
        "Not a complete JPEG, PNG or HEIC image.",
    )


def _too_many_pixels(max_pixels: int) -> PhotoTooManyPixels:
    megapixels = max_pixels / 1_000_000
    return PhotoTooManyPixels(
        f"The photo has more than {megapixels:g} megapixels; send a smaller one.",
        f"At most {megapixels:g} megapixels.",
    )


# --- use cases ------------------------------------------------------------------------------


def add_photo(principal: Principal, report_id: uuid.UUID, upload: FileStorage) -> Photo:
    """Attach a photo to the resident's own report, re-encoded with no metadata left.

    The upload's filename and Content-Type are ignored: its bytes decide what it is.
    """
    config = settings()
    limit = config.photo_max_per_report
    # Cheap checks first, without the write lock: whose report, and is there room left.
    _room_for_a_photo(principal, report_id, limit)

    max_bytes = config.photo_max_bytes
    data = upload.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"A photo may be at most {max_bytes // (1024 * 1024)} MiB.")
    # Decoding takes time: done before the write transaction so it holds no lock meanwhile.
    image = clean_image(data, config.photo_max_pixels)

    store = photo_store()
    key = f"{uuid.uuid4().hex}.{image.extension}"
    try:
        # Stored whole before the row is written, and not while the write lock is held (a PUT
        # to a bucket takes a while); removed again below if the row does not commit.
        store.put(key, image.data, image.content_type)
        with write():
            # Counted again inside the write transaction: two uploads at once cannot make six.
            _room_for_a_photo(principal, report_id, limit)
            photo = Photo(
                report_id=report_id,
                storage_key=key,
                content_type=image.content_type,
                width=image.width,
                height=image.height,
                size_bytes=len(image.data),
            )
            db.session.add(photo)
    except BaseException:
        forget_file(store, key)  # nothing refers to it (a refusal before put: nothing there)
        raise
    return photo


def _room_for_a_photo(principal: Principal, report_id: uuid.UUID, limit: int) -> None:
    owned = db.session.scalar(
        sa.select(Report.id).where(Report.id == report_id, Report.device_id == principal.id)
    )
    if owned is None:
        raise ReportNotFound("No such report.")
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Photo).where(Photo.report_id == report_id)
    )
    if count >= limit:
        raise PhotoLimitReached(f"A report can have at most {limit} photos.")


def forget_file(store: PhotoStore, key: str) -> None:
    try:
        store.delete(key)
    except Exception:  # noqa: BLE001 - the original error matters more; the file is an orphan
        log.warning("could not delete photo file %s", key, exc_info=True)


def own_photo(principal: Principal, report_id: uuid.UUID, photo_id: uuid.UUID) -> PhotoFile:
    """The stored bytes of a photo of the resident's own report."""
    owned = db.session.scalar(
        sa.select(Report.id).where(Report.id == report_id, Report.device_id == principal.id)
    )
    if owned is None:
        raise ReportNotFound("No such report.")
    photo = db.session.scalar(
        sa.select(Photo).where(
            Photo.id == photo_id, Photo.report_id == report_id, Photo.redacted_at.is_(None)
        )
    )
    if photo is None:
        raise PhotoNotFound("No such photo.")
    return photo_file(photo)


@dataclass(frozen=True)
class PhotoFile:
    """A stored photo's bytes and their type, as a view serves them."""

    data: bytes
    content_type: str


def photo_file(photo: Photo) -> PhotoFile:
    """The stored bytes of a photo the caller may see (the caller's check is done already)."""
    try:
        data = photo_store().get(photo.storage_key)
    except StoredPhotoMissing:
        log.error("photo %s has no stored file %s", photo.id, photo.storage_key)
        raise PhotoNotFound("No such photo.") from None
    return PhotoFile(data, photo.content_type)


def purge_expired_photos() -> int:
    """Delete photos (rows, then files) older than COPA_PHOTO_RETENTION_DAYS; returns how many."""
    days = settings().photo_retention_days
    with write():
        keys = list(
            db.session.scalars(
                sa.delete(Photo)
                .where(Photo.created_at < utcnow() - timedelta(days=days))
                .returning(Photo.storage_key),
                execution_options={"synchronize_session": False},
            )
        )
    # Files go after the rows are gone: a failure here leaves a file nobody points to, never a
    # photo whose file is missing.
    store = photo_store()
    for key in keys:
        forget_file(store, key)
    return len(keys)
