"""Where media bytes live: local folders (the default) or a bucket of any S3-compatible object
store, chosen by one setting, ``COPA_MEDIA_STORE_URL``.

- unset, or ``file:///srv/copa/media``: local folders (``photos/`` and ``videos/`` under that
  path; ``COPA_PHOTO_STORAGE_DIR`` and ``COPA_VIDEO_STORAGE_DIR`` still name them one by one,
  and without any of these they are ``instance/photos`` and ``instance/videos``).
- ``s3://BUCKET?endpoint_url=http://127.0.0.1:9000&region=eu-west-2&prefix=copa/&sse=AES256``:
  objects in BUCKET through boto3. Every query field is optional: ``endpoint_url`` (any
  S3-compatible server; AWS itself without it), ``region``, ``prefix`` (put before every key),
  ``sse`` (``AES256`` or ``aws:kms``: the server-side encryption asked of every upload).
  Credentials never go in the URL: boto3 finds them as it always does (``AWS_ACCESS_KEY_ID`` and
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance or task role).

Keys under the prefix: ``photos/<key>``, ``videos/<key>`` (processed videos and posters) and
``videos/quarantine/<key>`` (originals waiting for the media worker), the same layout as the
local folders and a backup's copy of them. boto3 is AWS's own SDK; its S3 client speaks to
MinIO, Ceph, Garage and the other S3-compatible servers as well (path-style addressing when an
``endpoint_url`` is given).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PHOTOS = "photos/"
VIDEOS = "videos/"
QUARANTINE = "videos/quarantine/"
SSE_MODES = ("AES256", "aws:kms", "aws:kms:dsse")
_QUERY_FIELDS = ("endpoint_url", "region", "prefix", "sse")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")
_CREDENTIAL_WORDS = ("key", "secret", "token", "password", "credential")


class MediaStoreUrlError(ValueError):
    """COPA_MEDIA_STORE_URL is not a URL this service can use; the message says why (and never
    repeats a credential put in it by mistake)."""


@dataclass(frozen=True)
class S3Location:
    """A bucket (and a prefix in it) of an S3-compatible store."""

    bucket: str
    prefix: str = ""  # "" or ends with "/"
    endpoint_url: str | None = None
    region: str | None = None
    sse: str | None = None

    def __str__(self) -> str:  # what logs show: no query that could carry anything else
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"


def parse_media_store_url(url: str | None) -> Path | S3Location | None:
    """``None`` (the default folders), the folder of a ``file:`` URL, or an ``S3Location``;
    ``MediaStoreUrlError`` for anything else."""
    if url is None or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.password is not None:
        raise MediaStoreUrlError(
            "COPA_MEDIA_STORE_URL must not hold credentials: give them to boto3 in "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or a role)"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or not parts.path:
            raise MediaStoreUrlError("COPA_MEDIA_STORE_URL file: URLs are file:///absolute/path")
        return Path(unquote(parts.path))
    if parts.scheme != "s3":
        raise MediaStoreUrlError(
            "COPA_MEDIA_STORE_URL must be file:///path or s3://bucket?endpoint_url=..., "
            f"not a {parts.scheme or 'schemeless'} URL"
        )
    bucket = parts.netloc
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise MediaStoreUrlError(f"COPA_MEDIA_STORE_URL: {bucket!r} is not an S3 bucket name")
    if parts.path not in ("", "/"):
        raise MediaStoreUrlError(
            "COPA_MEDIA_STORE_URL: put the key prefix in ?prefix=, not in the path"
        )
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise MediaStoreUrlError("COPA_MEDIA_STORE_URL: its query cannot be read") from None
    unknown = sorted(set(query) - set(_QUERY_FIELDS))
    if unknown:
        if any(word in name.lower() for name in unknown for word in _CREDENTIAL_WORDS):
            raise MediaStoreUrlError(
                "COPA_MEDIA_STORE_URL must not hold credentials: give them to boto3 in "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or a role)"
            )
        raise MediaStoreUrlError(
            f"COPA_MEDIA_STORE_URL: unknown field(s) {', '.join(unknown)} "
            f"(known: {', '.join(_QUERY_FIELDS)})"
        )
    fields: dict[str, str] = {}
    for name, values in query.items():
        if len(values) != 1 or not values[0]:
            raise MediaStoreUrlError(f"COPA_MEDIA_STORE_URL: give {name} one non-empty value")
        fields[name] = values[0]
    endpoint = fields.get("endpoint_url")
    if endpoint is not None:
        endpoint_parts = urlsplit(endpoint)
        if (
            endpoint_parts.scheme not in ("http", "https")
            or not endpoint_parts.hostname
            or endpoint_parts.username is not None
            or endpoint_parts.password is not None
            or endpoint_parts.query
        ):
            raise MediaStoreUrlError(
                "COPA_MEDIA_STORE_URL: endpoint_url must be http(s)://host[:port] "
                "with no credentials"
            )
        try:
            endpoint_parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise MediaStoreUrlError("COPA_MEDIA_STORE_URL: endpoint_url has a bad port") from None
    prefix = fields.get("prefix", "").lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not _PREFIX.fullmatch(prefix) or ".." in prefix or "//" in prefix or len(prefix) > 200:
        raise MediaStoreUrlError(
            "COPA_MEDIA_STORE_URL: prefix may hold letters, digits and !_.*'()/- only"
        )
    sse = fields.get("sse")
    if sse is not None and sse not in SSE_MODES:
        raise MediaStoreUrlError(f"COPA_MEDIA_STORE_URL: sse must be one of {', '.join(SSE_MODES)}")
    return S3Location(bucket, prefix, endpoint, fields.get("region"), sse)


class MissingObject(LookupError):
    """The bucket has nothing under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # without its quotes
    last_modified: datetime


def _missing(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class Bucket:
    """The few S3 calls media needs, on keys relative to the location's prefix."""

    def __init__(self, location: S3Location, client: Any | None = None) -> None:
        self.location = location
        self.client = client if client is not None else _client(location)

    def key(self, name: str) -> str:
        return self.location.prefix + name

    def _extra(self, content_type: str | None) -> dict[str, str]:
        extra = {"ContentType": content_type} if content_type else {}
        if self.location.sse:
            extra["ServerSideEncryption"] = self.location.sse
        return extra

    def put_bytes(self, name: str, data: bytes, content_type: str) -> None:
        """One PUT: the object appears whole or not at all."""
        self.client.put_object(
            Bucket=self.location.bucket, Key=self.key(name), Body=data, **self._extra(content_type)
        )

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> None:
        """Upload a file (multipart past 8 MiB: the object still appears only when complete)."""
        self.client.upload_file(
            str(path), self.location.bucket, self.key(name), ExtraArgs=self._extra(content_type)
        )

    def get_bytes(self, name: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=self.key(name))
        except Exception as error:
            if _missing(error):
                raise MissingObject(name) from None
            raise
        body = answer["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def download(self, name: str, path: Path) -> None:
        """Copy an object into a local file, streamed; ``MissingObject`` when there is none."""
        try:
            self.client.download_file(self.location.bucket, self.key(name), str(path))
        except Exception as error:
            if _missing(error):
                raise MissingObject(name) from None
            raise

    def head(self, name: str) -> ObjectInfo | None:
        try:
            answer = self.client.head_object(Bucket=self.location.bucket, Key=self.key(name))
        except Exception as error:
            if _missing(error):
                return None
            raise
        return ObjectInfo(
            answer["ContentLength"], answer["ETag"].strip('"'), answer["LastModified"]
        )

    def delete(self, name: str) -> None:
        """Remove an object; nothing happens if it is already gone."""
        self.client.delete_object(Bucket=self.location.bucket, Key=self.key(name))

    def names(self, under: str) -> Iterator[str]:
        """Every name (relative to the prefix) that starts with ``under``."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.location.bucket, Prefix=self.key(under)):
            for item in page.get("Contents", ()):
                yield item["Key"][len(self.location.prefix) :]

    def reader(self, name: str, info: ObjectInfo, end: int | None = None) -> ObjectReader:
        return ObjectReader(self, name, info.size, end)


class ObjectReader(io.RawIOBase):
    """A seekable read-only file over one object that fetches only what is read: from where it
    is read, up to ``end`` (the range the response will send), in ranged GETs streamed a chunk
    at a time. Nothing is fetched until the first read, so a 304 or 416 fetches nothing."""

    def __init__(self, bucket: Bucket, name: str, size: int, end: int | None = None) -> None:
        super().__init__()
        self.bucket, self.name, self.size = bucket, name, size
        self.end = size if end is None else min(end, size)
        self.position = 0
        self.body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position != self.position:
            self._drop()
            self.position = position
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        for _ in range(2):  # the GET in hand may be used up: then one new one
            if self.body is None:
                # Up to the range asked for; past it (a caller that reads on) up to the end.
                stop = self.end if self.position < self.end else self.size
                answer = self.bucket.client.get_object(
                    Bucket=self.bucket.location.bucket,
                    Key=self.bucket.key(self.name),
                    Range=f"bytes={self.position}-{stop - 1}",
                )
                self.body = answer["Body"]
            data = self.body.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                self.position += len(data)
                return len(data)
            self._drop()
        return 0

    def _drop(self) -> None:
        if self.body is not None:
            body, self.body = self.body, None
            body.close()

    def close(self) -> None:
        self._drop()
        super().close()


@dataclass(frozen=True)
class StoredObject:
    """An object a response can send, Range requests answered from the store."""

    bucket: Bucket
    name: str
    info: ObjectInfo

    @property
    def size(self) -> int:
        return self.info.size

    @property
    def etag(self) -> str:
        return self.info.etag

    @property
    def last_modified(self) -> datetime:
        return self.info.last_modified

    def open(self, end: int | None = None) -> ObjectReader:
        return self.bucket.reader(self.name, self.info, end)


def _client(location: S3Location) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        # Any S3-compatible server answers path-style; AWS itself, virtual-hosted.
        s3={"addressing_style": "path" if location.endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=location.endpoint_url, region_name=location.region, config=config
    )
