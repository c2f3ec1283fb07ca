"""iPhone photos (HEIC/HEIF): accepted through the app and Open311, stored as upright JPEG with
no GPS, EXIF, XMP, ICC profile or thumbnail left; broken or fake ones refused with a 4xx."""

from __future__ import annotations

import io
import struct

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms

from copa.db import db
from copa.open311.models import Open311Request
from copa.reports import photos
from copa.reports.models import Photo, Report
from tests.factories import load_reference_data, table_counts
from tests.open311.conftest import make_client

PROBLEM_JSON = "application/problem+json"
MAKE = "SecretPhoneMaker"
MODEL = "SecretPhone 15 Pro Max"
OWNER_IN_ICC = b"Jane Resident's iPhone"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Label="Jane '
    b'Resident at 14 Acacia Avenue"/></rdf:RDF></x:xmpmeta>'
)
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (54.0, 34.0, 30.0),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (1.0, 14.0, 5.0),
}
HEIC_SECRETS = (
    b"Exif",
    MAKE.encode(),
    MODEL.encode(),
    b"Jane Resident",
    b"Acacia",
    b"http://ns.adobe.com/xap",
    OWNER_IN_ICC,
)


# --- HEIC files made here, with pillow-heif (as an iPhone writes them) ----------------------


def iphone_heic(size=(60, 40)) -> bytes:
    """A HEIC as an iPhone sends it: EXIF with GPS, make and model, an XMP packet, an ICC
    profile, a thumbnail, and the picture stored sideways with a rotation to show it upright.

    White, with a red block in the top-left corner of the stored (sideways) pixels.
    """
    image = Image.new("RGB", size, "white")
    image.paste((255, 0, 0), (0, 0, 12, 12))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = MAKE
    exif[ExifTags.Base.Model] = MODEL
    exif[ExifTags.Base.Orientation] = 6  # pillow-heif writes it as the HEIF rotation (irot)
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() + OWNER_IN_ICC
    out = io.BytesIO()
    image.save(
        out,
        "HEIF",
        exif=exif.tobytes(),
        xmp=XMP,
        icc_profile=profile,
        thumbnails=[16],
        quality=90,
    )
    return out.getvalue()


def noisy_heic(size=(128, 96)) -> bytes:
    """A HEIC whose picture is all detail, so every byte of its coded data matters."""
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, "HEIF", quality=80)
    return out.getvalue()


def heic_declaring(width: int, height: int) -> bytes:
    """A tiny HEIC whose image-size property claims ``width`` x ``height`` (a bomb)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, "HEIF")
    data = bytearray(out.getvalue())
    ispe = data.index(b"ispe")  # then version and flags (4 bytes), width and height
    assert struct.unpack(">II", data[ispe + 8 : ispe + 16]) == (64, 64)
    data[ispe + 8 : ispe + 16] = struct.pack(">II", width, height)
    return bytes(data)


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments (everything before its pixel data)."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while data[at + 1] != 0xDA:  # start of scan: the pixels follow
        assert data[at] == 0xFF
        markers.append(data[at + 1])
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return markers


def assert_clean_jpeg(data: bytes, size: tuple[int, int]) -> None:
    """``data`` decodes as a JPEG of ``size`` with nothing of the phone's metadata in it."""
    for secret in HEIC_SECRETS:
        assert secret not in data, secret
    with Image.open(io.BytesIO(data)) as kept:
        assert kept.format == "JPEG" and kept.size == size
        assert not kept.getexif()
        assert not kept.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(kept.info)
        kept.load()
    # Only the JFIF header (APP0): no EXIF/XMP (APP1), ICC or MPF thumbnails (APP2), comment.
    app_or_comment = [m for m in jpeg_segments(data) if 0xE0 <= m <= 0xEF or m == 0xFE]
    assert app_or_comment == [0xE0]


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def photo_dir(app, tmp_path, monkeypatch):
    """Each test stores its photos in its own directory."""
    directory = tmp_path / "photos"
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(directory))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    yield directory
    app.extensions.pop(photos.STORE_EXTENSION, None)


def upload(client, headers, report_id, data, filename="IMG_0001.HEIC", mimetype="image/heic"):
    return client.post(
        f"/v1/reports/{report_id}/photos",
        data={"photo": (io.BytesIO(data), filename, mimetype)},
        content_type="multipart/form-data",
        headers=headers,
    )


def stored_files(directory) -> list:
    if not directory.exists():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file())


def photo_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Photo))


def assert_problem(response, status: int, type_suffix: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == status and body["type"].endswith(type_suffix)
    return body


def test_the_test_heic_carries_what_an_iphone_puts_in_it():
    data = iphone_heic()
    assert data[4:12] == b"ftypheic"
    for secret in HEIC_SECRETS:
        assert secret in data, secret
    assert b"irot" in data and b"thmb" in data  # a rotation, and a thumbnail item
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.format == "HEIF"
        exif = sent.getexif()
        assert exif[ExifTags.Base.Make] == MAKE and exif[ExifTags.Base.Model] == MODEL
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert sent.info["icc_profile"].endswith(OWNER_IN_ICC) and "xmp" in sent.info


# --- through the resident API ---------------------------------------------------------------


def test_iphone_heic_is_stored_as_an_upright_jpeg_with_no_metadata(
    app, client, auth, report_id, photo_dir
):
    response = upload(client, auth, report_id, iphone_heic((60, 40)))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # Stored sideways with a rotation: the resident's upright 40 x 60 picture is what is kept.
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 40, 60)
    served = client.get(body["url"], headers=auth)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    [stored] = stored_files(photo_dir)
    assert stored.suffix == ".jpg"
    assert served.data == stored.read_bytes() and len(served.data) == body["size_bytes"]
    assert_clean_jpeg(served.data, (40, 60))
    picture = Image.open(io.BytesIO(served.data)).convert("RGB")
    red, green, blue = picture.getpixel((34, 5))  # the block is now in the top-right corner
    assert red > 200 and green < 60 and blue < 60
    assert min(picture.getpixel((5, 5))) > 200 and min(picture.getpixel((5, 54))) > 200


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [
        ("IMG_0001.HEIC", "image/heic"),
        ("IMG_0001.heif", "image/heif"),
        ("upload", "application/octet-stream"),
        ("photo.jpg", "image/jpeg"),
    ],
)
def test_heic_is_known_by_its_content_whatever_its_name_or_declared_type(
    client, auth, report_id, filename, mimetype
):
    response = upload(client, auth, report_id, noisy_heic((48, 32)), filename, mimetype)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 48, 32)


def test_a_jpeg_named_and_typed_as_heic_is_taken_as_the_jpeg_it_is(client, auth, report_id):
    picture = io.BytesIO()
    Image.new("RGB", (30, 20), "green").save(picture, "JPEG")

    response = upload(client, auth, report_id, picture.getvalue(), "IMG_0002.HEIC", "image/heic")

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["width"], response.get_json()["height"]) == (30, 20)


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: _half(iphone_heic()), id="iphone-heic-cut-in-half"),
        pytest.param(lambda: _half(noisy_heic()), id="noisy-heic-cut-in-half"),
        pytest.param(lambda: noisy_heic()[:-200], id="heic-missing-its-last-200-bytes"),
        pytest.param(lambda: b"Not a photo: my notes about the bikes.\n" * 20, id="text"),
        pytest.param(lambda: noisy_heic()[:40] + b"\x00" * 4000, id="heic-header-then-zeros"),
    ],
)
def test_broken_or_fake_heic_is_refused_with_422_and_nothing_stored(
    app, client, auth, report_id, photo_dir, content
):
    response = upload(client, auth, report_id, content(), "IMG_0003.HEIC", "image/heic")

    body = assert_problem(response, 422, "photo-invalid")
    assert body["errors"]["photo"] == ["Not a complete JPEG, PNG or HEIC image."]
    assert "HEIC" in body["detail"]
    assert photo_rows(app) == 0 and stored_files(photo_dir) == []


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (7_000, 7_000)])
def test_heic_declaring_too_many_pixels_is_refused_without_decoding_it(
    app, client, auth, report_id, photo_dir, width, height
):
    bomb = heic_declaring(width, height)
    assert len(bomb) < 2048

    response = upload(client, auth, report_id, bomb)

    body = assert_problem(response, 422, "photo-too-many-pixels")
    assert body["errors"]["photo"] == ["At most 40 megapixels."]
    assert photo_rows(app) == 0 and stored_files(photo_dir) == []


def test_heic_over_the_byte_cap_is_refused_with_413(
    app, client, auth, report_id, photo_dir, monkeypatch
):
    data = noisy_heic()
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", len(data) - 1)

    response = upload(client, auth, report_id, data)

    assert_problem(response, 413, "photo-too-large")
    assert photo_rows(app) == 0 and stored_files(photo_dir) == []


# --- through Open311 ------------------------------------------------------------------------


@pytest.fixture
def open311_client(app):
    load_reference_data(app)
    return make_client(app)


def open311_post(client, open311_client, media: bytes):
    form = {
        "api_key": open311_client.api_key,
        "jurisdiction_id": open311_client.jurisdiction_id,
        "service_code": "fly_tipping",
        "lat": "54.576200",
        "long": "-1.234800",
        "description": "A mattress and two bin bags dumped behind the shops",
        "attribute[size]": "small",
        "media": (io.BytesIO(media), "IMG_0004.HEIC", "image/heic"),
    }
    return client.post("/open311/v2/requests.json", data=form, content_type="multipart/form-data")


def test_open311_takes_an_iphone_heic_as_a_clean_jpeg(app, client, open311_client, photo_dir):
    response = open311_post(client, open311_client, iphone_heic((60, 40)))

    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        [photo] = db.session.scalars(sa.select(Photo)).all()
        stored = photos.photo_store().get(photo.storage_key)
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 40, 60)
    assert photo.size_bytes == len(stored)
    assert_clean_jpeg(stored, (40, 60))


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: _half(iphone_heic()), id="truncated-heic"),
        pytest.param(lambda: b"<html>not a photo</html>", id="text-named-heic"),
    ],
)
def test_open311_refuses_a_broken_heic_in_its_own_shape_and_stores_nothing(
    app, client, open311_client, photo_dir, content
):
    response = open311_post(client, open311_client, content())

    assert response.status_code == 400, response.get_data(as_text=True)
    [error] = response.get_json()
    assert error["code"] == 400 and "JPEG, PNG or HEIC" in error["description"]
    assert set(table_counts(app, Report, Open311Request, Photo).values()) == {0}
    assert stored_files(photo_dir) == []


# --- whatever the bytes, a clean JPEG or a refusal ------------------------------------------

_SAMPLE = noisy_heic((64, 48))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cut=st.integers(min_value=0, max_value=len(_SAMPLE)),
    changes=st.lists(st.tuples(st.integers(0, len(_SAMPLE) - 1), st.integers(0, 255)), max_size=6),
)
def test_damaged_heic_is_either_a_clean_jpeg_or_refused(cut, changes):
    data = bytearray(_SAMPLE[:cut] if cut < len(_SAMPLE) else _SAMPLE)
    for at, value in changes:
        if at < len(data):
            data[at] = value

    try:
        image = photos.clean_image(bytes(data), 40_000_000)
    except photos.PhotoUnreadable:  # a 422 (its subclass: too many pixels)
        return
    assert image.content_type == "image/jpeg"
    with Image.open(io.BytesIO(image.data)) as kept:
        assert kept.format == "JPEG" and kept.size == (image.width, image.height)
        assert not kept.getexif()
