"""Photos of a report: only real JPEG/PNG images, re-encoded upright with no metadata left."""

from __future__ import annotations

import io
import os
import struct
import uuid
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image, PngImagePlugin

from copa.catalog.models import Category
from copa.catalog.service import ensure_seed_categories
from copa.db import db, utcnow
from copa.references import next_reference
from copa.reports import photos
from copa.reports.models import Photo, Report
from tests import media_stores
from tests.factories import bearer, register_device, signed_in

PROBLEM_JSON = "application/problem+json"
SECRET_COMMENT = b"taken from my bedroom window at 14 Acacia Avenue"
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (54.0, 34.0, 30.0),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (1.0, 14.0, 5.0),
}
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator='
    b'"Jane Resident"/></rdf:RDF></x:xmpmeta>'
)
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/"


# --- images built in memory -----------------------------------------------------------------


def phone_jpeg(size=(60, 40), orientation=6) -> bytes:
    """What a phone sends: EXIF with GPS and Orientation, a JPEG comment and an XMP packet.

    White, with a red block in the top-left corner of the stored (sideways) pixels.
    """
    image = Image.new("RGB", size, "white")
    image.paste((255, 0, 0), (0, 0, 12, 12))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=SECRET_COMMENT, quality=95)
    data = out.getvalue()
    # An APP1 XMP segment right after SOI, as cameras write it.
    payload = XMP_NAMESPACE + b"\x00" + XMP
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def png_with_text(mode="RGBA", size=(30, 20)) -> bytes:
    image = Image.new(mode, size, (0, 128, 255, 128) if mode == "RGBA" else (0, 128, 255))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET_COMMENT.decode())
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Location", "54.575,-1.234", zip=True)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def plain_jpeg(size=(32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(out, "GIF")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    data = bytearray(png_with_text("RGB", (8, 8)))
    ihdr = 8  # after the signature: length (4), b"IHDR", then the 13 bytes of the header
    assert data[ihdr + 4 : ihdr + 8] == b"IHDR"
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    data[ihdr + 8 + 13 : ihdr + 8 + 17] = struct.pack(">I", crc)
    return bytes(data)


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def photo_dir(use_media_store):
    """Each test stores its photos in its own folder, then in its own bucket (moto's S3
    server): every test here runs on both stores."""
    return use_media_store.folder("photos")


def make_report(app, device_id: str) -> uuid.UUID:
    with app.app_context():
        ensure_seed_categories()
        category = db.session.scalar(sa.select(Category).where(Category.code == "asb"))
        report = Report(
            reference=next_reference(),
            device_id=uuid.UUID(device_id),
            category=category,
            description="Youths throwing stones at windows",
            destination_kind="force_control_room",
            destination_name="Cleveland Police force control room",
        )
        db.session.add(report)
        db.session.commit()
        return report.id


def upload(client, headers, report_id, data, filename="photo.jpg", mimetype="image/jpeg", key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        f"/v1/reports/{report_id}/photos",
        data={"photo": (io.BytesIO(data), filename, mimetype)},
        content_type="multipart/form-data",
        headers={**headers, **extra},
    )


def stored_files(folder) -> list:
    return media_stores.stored_files(folder)


def photo_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Photo))


def fetch(client, headers, body):
    return client.get(body["url"], headers=headers)


def assert_problem(response, status: int, type_suffix: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == status
    if type_suffix:
        assert body["type"].endswith(type_suffix)
    return body


# --- what is stored -------------------------------------------------------------------------


def test_phone_jpeg_is_stored_without_exif_gps_comment_or_xmp(
    app, client, auth, report_id, photo_dir
):
    original = phone_jpeg()
    with Image.open(io.BytesIO(original)) as sent:  # the test image really carries all of it
        assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert sent.info["comment"] == SECRET_COMMENT and "xmp" in sent.info
    assert b"Exif" in original and XMP_NAMESPACE in original and SECRET_COMMENT in original

    response = upload(client, auth, report_id, original)

    assert response.status_code == 201, response.get_json()
    [stored] = stored_files(photo_dir)
    data = stored.read_bytes()
    for secret in (
        b"Exif",
        b"http://ns.adobe.com/xap",
        SECRET_COMMENT,
        b"Jane Resident",
        b"PhoneMaker",
    ):
        assert secret not in data
    with Image.open(io.BytesIO(data)) as kept:
        assert kept.format == "JPEG"
        assert not kept.getexif()
        assert not {"comment", "exif", "xmp", "icc_profile"} & set(kept.info)


def test_photo_is_stored_upright_as_its_orientation_says(app, client, auth, report_id):
    # 60x40 as stored by the camera, Orientation=6: shown rotated 90 degrees clockwise.
    body = upload(client, auth, report_id, phone_jpeg((60, 40), orientation=6)).get_json()

    assert (body["width"], body["height"]) == (40, 60)
    image = Image.open(io.BytesIO(fetch(client, auth, body).data)).convert("RGB")
    assert image.size == (40, 60)
    red, green, blue = image.getpixel((34, 5))  # the block is now in the top-right corner
    assert red > 200 and green < 60 and blue < 60
    assert min(image.getpixel((5, 5))) > 200  # and the top-left corner is white
    assert min(image.getpixel((5, 54))) > 200


def test_png_with_alpha_stays_png_without_its_text_chunks(app, client, auth, report_id, photo_dir):
    response = upload(client, auth, report_id, png_with_text("RGBA"), "shot.png", "image/png")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["content_type"] == "image/png"
    data = stored_files(photo_dir)[0].read_bytes()
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
        assert chunk not in data
    assert SECRET_COMMENT not in data and b"adobe" not in data
    with Image.open(io.BytesIO(data)) as kept:
        assert kept.mode == "RGBA" and kept.size == (30, 20)
        assert kept.getpixel((3, 3)) == (0, 128, 255, 128)
        assert not kept.text and not {"comment", "exif", "xmp", "icc_profile"} & set(kept.info)


def test_png_without_alpha_is_stored_as_jpeg_without_its_text(
    app, client, auth, report_id, photo_dir
):
    response = upload(client, auth, report_id, png_with_text("RGB"), "shot.png", "image/png")

    assert response.status_code == 201
    assert response.get_json()["content_type"] == "image/jpeg"
    data = stored_files(photo_dir)[0].read_bytes()
    assert SECRET_COMMENT not in data and b"adobe" not in data and b"54.575" not in data


def test_upload_answers_with_the_photo_and_where_to_fetch_it(client, auth, report_id):
    response = upload(client, auth, report_id, plain_jpeg((32, 24)))

    body = response.get_json()
    assert response.status_code == 201
    assert set(body) == {"id", "content_type", "width", "height", "size_bytes", "created_at", "url"}
    assert (body["width"], body["height"], body["content_type"]) == (32, 24, "image/jpeg")
    assert body["url"] == f"/v1/reports/{report_id}/photos/{body['id']}"
    assert response.headers["Location"].endswith(body["url"])
    report = client.get(f"/v1/reports/{report_id}", headers=auth).get_json()
    assert [photo["id"] for photo in report["photos"]] == [body["id"]]


def test_get_returns_the_stored_bytes_with_their_type(client, auth, report_id, photo_dir):
    body = upload(client, auth, report_id, png_with_text("RGBA"), "a.png", "image/png").get_json()

    response = fetch(client, auth, body)

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == stored_files(photo_dir)[0].read_bytes()
    assert len(response.data) == body["size_bytes"]
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "inline"


def test_stored_file_is_named_by_the_service_never_by_the_upload(
    client, auth, report_id, photo_dir
):
    upload(client, auth, report_id, plain_jpeg(), filename="../../etc/evil name.jpg")

    [stored] = stored_files(photo_dir)
    assert stored.parent.name == "photos"  # no folder made from the upload's name
    assert "evil" not in stored.name and "etc" not in stored.name


# --- what is refused ------------------------------------------------------------------------


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("content", "filename", "mimetype"),
    [
        (b"<html><script>alert(1)</script></html>", "photo.jpg", "image/jpeg"),
        (gif(), "photo.png", "image/png"),
        (b"", "photo.jpg", "image/jpeg"),
        (truncated(plain_jpeg((200, 150))), "photo.jpg", "image/jpeg"),
        (truncated(png_with_text("RGB", (200, 150))), "photo.png", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(64), "photo.png", "image/png"),
    ],
    ids=["html-named-jpg", "gif", "empty", "truncated-jpeg", "truncated-png", "png-signature-only"],
)
def test_anything_but_a_complete_jpeg_or_png_is_refused_and_nothing_stored(
    app, client, auth, report_id, photo_dir, content, filename, mimetype
):
    response = upload(client, auth, report_id, content, filename, mimetype)

    body = assert_problem(response, 422)
    assert body["errors"]["photo"]
    assert photo_rows(app) == 0
    assert stored_files(photo_dir) == []


def test_photo_over_8_mib_is_refused_with_413(app, client, auth, report_id, photo_dir):
    response = upload(client, auth, report_id, os.urandom(8 * 1024 * 1024 + 1))

    assert_problem(response, 413, "photo-too-large")
    assert photo_rows(app) == 0 and stored_files(photo_dir) == []


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (7_000, 7_000)])
def test_decompression_bomb_is_refused_without_decoding_it(
    app, client, auth, report_id, photo_dir, width, height
):
    bomb = png_declaring(width, height)
    assert len(bomb) < 2048

    response = upload(client, auth, report_id, bomb, "bomb.png", "image/png")

    body = assert_problem(response, 422, "photo-too-many-pixels")
    assert body["errors"]["photo"] == ["At most 40 megapixels."]
    assert photo_rows(app) == 0 and stored_files(photo_dir) == []


def test_sixth_photo_is_refused_with_409(app, client, auth, report_id, photo_dir):
    for _ in range(5):
        assert upload(client, auth, report_id, plain_jpeg()).status_code == 201

    response = upload(client, auth, report_id, plain_jpeg())

    assert_problem(response, 409, "photo-limit")
    assert photo_rows(app) == 5 and len(stored_files(photo_dir)) == 5


def test_upload_that_loses_the_race_for_the_last_place_is_409_and_stores_nothing(
    app, client, auth, report_id, photo_dir, monkeypatch
):
    for _ in range(4):
        assert upload(client, auth, report_id, plain_jpeg()).status_code == 201
    decode = photos.clean_image

    def decode_while_another_upload_takes_the_fifth_place(data, max_pixels):
        image = decode(data, max_pixels)
        db.session.add(
            Photo(
                report_id=report_id,
                storage_key="the-other-upload.jpg",
                content_type="image/jpeg",
                width=1,
                height=1,
                size_bytes=1,
            )
        )
        db.session.commit()
        return image

    monkeypatch.setattr(photos, "clean_image", decode_while_another_upload_takes_the_fifth_place)

    response = upload(client, auth, report_id, plain_jpeg())

    assert_problem(response, 409, "photo-limit")
    assert photo_rows(app) == 5
    assert len(stored_files(photo_dir)) == 4  # nothing written for the refused upload


def test_missing_photo_part_is_422(client, auth, report_id):
    response = client.post(
        f"/v1/reports/{report_id}/photos",
        data={"other": (io.BytesIO(plain_jpeg()), "x.jpg", "image/jpeg")},
        content_type="multipart/form-data",
        headers=auth,
    )

    body = assert_problem(response, 422)
    assert "photo" in body["errors"]


# --- who may see and add photos -------------------------------------------------------------


def test_another_residents_report_is_not_found_for_upload_and_get(app, client, auth, report_id):
    photo = upload(client, auth, report_id, plain_jpeg()).get_json()
    stranger = bearer(register_device(client)["access_token"])

    refused_upload = upload(client, stranger, report_id, plain_jpeg())
    refused_get = fetch(client, stranger, photo)

    missing = assert_problem(
        upload(client, stranger, uuid.uuid4(), plain_jpeg()), 404, "report-not-found"
    )
    assert assert_problem(refused_upload, 404, "report-not-found")["detail"] == missing["detail"]
    assert_problem(refused_get, 404, "report-not-found")
    assert photo_rows(app) == 1


def test_photo_of_another_report_is_not_found_under_this_one(
    app, client, resident, auth, report_id
):
    photo = upload(client, auth, report_id, plain_jpeg()).get_json()
    other_report = make_report(app, resident["device_id"])

    response = client.get(f"/v1/reports/{other_report}/photos/{photo['id']}", headers=auth)

    assert_problem(response, 404, "photo-not-found")


def test_staff_cannot_upload_or_fetch_photos(app, client, auth, report_id):
    photo = upload(client, auth, report_id, plain_jpeg()).get_json()
    staff = bearer(signed_in(app, client, "reviewer")["access_token"])

    assert_problem(upload(client, staff, report_id, plain_jpeg()), 403)
    assert_problem(fetch(client, staff, photo), 403)


# --- retries, failures and retention --------------------------------------------------------


def test_retried_upload_with_the_same_key_makes_one_photo(app, client, auth, report_id, photo_dir):
    data = phone_jpeg()
    first = upload(client, auth, report_id, data, key="photo-1")
    again = upload(client, auth, report_id, data, key="photo-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert photo_rows(app) == 1 and len(stored_files(photo_dir)) == 1


def test_failed_database_commit_leaves_no_file(
    app, client, auth, report_id, photo_dir, monkeypatch
):
    def broken_commit():
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(photos.db.session, "commit", broken_commit, raising=False)

    response = upload(client, auth, report_id, plain_jpeg())

    assert_problem(response, 500)
    monkeypatch.undo()
    assert photo_rows(app) == 0
    assert stored_files(photo_dir) == []


def test_purge_removes_expired_photos_and_their_files(app, client, auth, report_id, photo_dir):
    old = upload(client, auth, report_id, plain_jpeg()).get_json()
    young = upload(client, auth, report_id, plain_jpeg()).get_json()
    with app.app_context():
        db.session.execute(
            sa.update(Photo)
            .where(Photo.id == uuid.UUID(old["id"]))
            .values(created_at=utcnow() - timedelta(days=366))
        )
        db.session.commit()
        young_key = db.session.get(Photo, uuid.UUID(young["id"])).storage_key

        assert photos.purge_expired_photos() == 1

    assert [p.name for p in stored_files(photo_dir)] == [young_key]
    assert_problem(fetch(client, auth, old), 404, "photo-not-found")
    assert fetch(client, auth, young).status_code == 200


@pytest.mark.parametrize("key", ["../escape.jpg", "a/b.jpg", "a\\b.jpg", "", ".hidden", ".."])
def test_local_store_refuses_keys_that_could_leave_its_directory(tmp_path, key):
    store = photos.LocalPhotoStore(tmp_path / "photos")

    with pytest.raises(ValueError):
        store.put(key, b"data", "image/jpeg")
    assert not (tmp_path / "escape.jpg").exists()


def test_local_store_round_trip_and_delete(tmp_path):
    store = photos.LocalPhotoStore(tmp_path / "photos")
    store.put("abc.jpg", b"pixels", "image/jpeg")

    assert store.get("abc.jpg") == b"pixels"
    store.delete("abc.jpg")
    store.delete("abc.jpg")  # already gone: nothing happens
    with pytest.raises(photos.StoredPhotoMissing):
        store.get("abc.jpg")
    assert list((tmp_path / "photos").iterdir()) == []
