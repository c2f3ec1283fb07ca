"""COPA_MEDIA_STORE_URL: where media lives, checked when the service starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from copa import create_app
from copa.config import ConfigError
from copa.objectstore import S3Location, parse_media_store_url
from copa.reports import photos, videos
from tests.conftest import TEST_SETTINGS


def test_unset_means_the_local_folders():
    assert parse_media_store_url(None) is None
    assert parse_media_store_url("") is None


def test_s3_url_with_every_field():
    location = parse_media_store_url(
        "s3://copa-media?endpoint_url=http://127.0.0.1:9000&region=eu-west-2&prefix=prod&sse=AES256"
    )
    assert location == S3Location(
        "copa-media", "prod/", "http://127.0.0.1:9000", "eu-west-2", "AES256"
    )
    assert str(location) == "s3://copa-media/prod/ at http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://AKIAEXAMPLE:wJalrXUtnFEMI@copa-media", "must not hold credentials"),
        ("s3://copa-media?aws_secret_access_key=wJalrXUtnFEMI", "must not hold credentials"),
        ("s3://copa-media?endpoint_url=ftp://127.0.0.1", "endpoint_url must be http(s)"),
        ("s3://copa-media?endpoint_url=http://AKIA:wJalrXUtnFEMI@host", "no credentials"),
        ("s3://copa-media?sse=rot13", "sse must be one of"),
        ("s3://copa-media?colour=blue", "unknown field(s) colour"),
        ("s3://Not_A_Bucket", "is not an S3 bucket name"),
        ("s3://copa-media/photos", "in ?prefix=, not in the path"),
        ("s3://copa-media?prefix=../up", "prefix may hold"),
        ("gs://copa-media", "must be file:///path or s3://"),
        ("file://host/srv/media", "file:///absolute/path"),
    ],
)
def test_a_wrong_url_stops_the_service_at_startup_saying_why(url, says):
    with pytest.raises(ConfigError) as refused:
        create_app({**TEST_SETTINGS, "MEDIA_STORE_URL": url})
    assert says in str(refused.value)
    assert "wJalrXUtnFEMI" not in str(refused.value)  # a secret put there is never repeated


def test_file_url_keeps_photos_and_videos_in_its_folder_unless_named_one_by_one(tmp_path):
    app = create_app(
        {
            **TEST_SETTINGS,
            "MEDIA_STORE_URL": f"file://{tmp_path}/media",
            "DATABASE_URL": "sqlite://",
        }
    )
    with app.app_context():
        assert photos.photo_store().directory == tmp_path / "media" / "photos"
        assert videos.video_store().directory == tmp_path / "media" / "videos"
    named = create_app(
        {
            **TEST_SETTINGS,
            "MEDIA_STORE_URL": f"file://{tmp_path}/media",
            "PHOTO_STORAGE_DIR": str(tmp_path / "elsewhere"),
            "DATABASE_URL": "sqlite://",
        }
    )
    with named.app_context():
        assert photos.photo_store().directory == Path(tmp_path / "elsewhere")
        assert videos.video_store().directory == tmp_path / "media" / "videos"
