"""The media tests run twice: on the local folders, and on a bucket of an S3-compatible store
(moto's server, started once a test session on 127.0.0.1, a bucket for each test).

A test looks at what is stored through a ``Folder`` (the local folder itself) or a
``BucketFolder`` (the bucket's objects under ``photos/`` or ``videos/``, downloaded into a
fresh local folder each time it is looked at), so the same assertions hold for both.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STORES = ("local", "s3")
REGION = "eu-west-2"

# Nothing leaves this host: dummy credentials, no instance-metadata lookups, no profile files.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@functools.cache
def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=REGION)


@dataclass
class BucketFolder:
    """The objects under ``<name>/`` of a bucket, as files of a local folder (quarantined
    originals in its ``quarantine/``, as in the local store)."""

    client: Any
    bucket: str
    name: str
    mirrors: Path
    _count: itertools.count = field(default_factory=itertools.count)

    def files(self) -> list[Path]:
        mirror = self.mirrors / str(next(self._count)) / self.name
        mirror.mkdir(parents=True)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.name}/"):
            for item in page.get("Contents", ()):
                path = mirror / item["Key"][len(self.name) + 1 :]
                path.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, item["Key"], str(path))
        return sorted(p for p in mirror.rglob("*") if p.is_file())

    def object_settings(self) -> list[dict[str, Any]]:
        """What the store was asked to keep with each object (type, encryption)."""
        paginator = self.client.get_paginator("list_objects_v2")
        heads = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.name}/"):
            for item in page.get("Contents", ()):
                heads.append(self.client.head_object(Bucket=self.bucket, Key=item["Key"]))
        return heads


def stored_files(folder: Path | BucketFolder, recursive: bool = False) -> list[Path]:
    """The files a store holds, whichever it is."""
    if isinstance(folder, BucketFolder):
        return folder.files()
    if not folder.exists():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file())


@dataclass
class MediaStore:
    """One test's media store: the local folders under ``root``, or a bucket of its own."""

    kind: str
    root: Path
    endpoint: str | None = None
    bucket: str | None = None
    client: Any = None

    @property
    def url(self) -> str | None:
        if self.kind != "s3":
            return None
        return f"s3://{self.bucket}?endpoint_url={self.endpoint}&region={REGION}&sse=AES256"

    def settings(self) -> dict[str, str | None]:
        """The app's configuration for this store."""
        if self.kind == "s3":
            return {
                "MEDIA_STORE_URL": self.url,
                "PHOTO_STORAGE_DIR": None,
                # The video folder holds only work in progress (uploads, videos being made).
                "VIDEO_STORAGE_DIR": str(self.scratch),
            }
        return {
            "MEDIA_STORE_URL": None,
            "PHOTO_STORAGE_DIR": str(self.root / "photos"),
            "VIDEO_STORAGE_DIR": str(self.root / "videos"),
        }

    def environment(self) -> dict[str, str]:
        """The same, as COPA_ variables for another process (and the AWS dummies)."""
        values = {f"COPA_{k}": v for k, v in self.settings().items() if v is not None}
        return {**values, **(AWS_ENVIRONMENT if self.kind == "s3" else {})}

    @property
    def scratch(self) -> Path:
        """Where this host keeps work in progress: the local video folder itself, or (with a
        bucket) the folder COPA_VIDEO_STORAGE_DIR names for it."""
        return self.root / ("scratch" if self.kind == "s3" else "videos")

    def folder(self, name: str) -> Path | BucketFolder:
        if self.kind == "s3":
            return BucketFolder(self.client, self.bucket, name, self.root / "mirrors")
        return self.root / name

    def wipe(self) -> None:
        """What a lost disk (or an emptied bucket) leaves: no media."""
        if self.kind == "s3":
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket):
                for item in page.get("Contents", ()):
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
        else:
            for name in ("photos", "videos"):
                shutil.rmtree(self.root / name, ignore_errors=True)


def make_media_store(kind: str, root: Path, endpoint: str | None) -> MediaStore:
    if kind == "local":
        return MediaStore("local", root)
    assert endpoint is not None and endpoint.startswith("http://127.0.0.1:")
    client = s3_client(endpoint)
    bucket = f"copa-test-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return MediaStore("s3", root, endpoint, bucket, client)
