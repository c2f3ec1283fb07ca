"""Videos from phones: refused at upload when too big, too long or unreadable; otherwise held in
quarantine as ``processing`` until the media worker has re-encoded them with no metadata."""

from __future__ import annotations

import io
import struct
import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import sqlalchemy as sa
from flask.testing import EnvironBuilder
from PIL import Image

from copa.db import db, utcnow
from copa.reports import media, videos
from copa.reports.models import Video
from copa.reports.videos import purge_expired_videos, run_media_worker
from copa.routing.models import Referral
from tests import media_stores
from tests.console.test_console import sign_in
from tests.factories import bearer, login, register_device, signed_in, user_with_role
from tests.reports.test_photos import assert_problem

RECORDED_AT = "2026-11-05T21:14:03.000000Z"
# How MP4/MOV headers (mvhd, tkhd, mdhd) hold that time: seconds since 1904, 32 bits.
RECORDED_AT_BOX = struct.pack(
    ">I",
    int(
        (
            datetime(2026, 11, 5, 21, 14, 3, tzinfo=UTC) - datetime(1904, 1, 1, tzinfo=UTC)
        ).total_seconds()
    ),
)
SECRETS = (b"\xa9xyz", b"+54.5742-001.2350", b"PhoneMakerX", b"SecretModel 12", b"Acacia")


# --- videos made here with PyAV -------------------------------------------------------------


def phone_video(
    path: Path,
    *,
    seconds: float = 2,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    container: str = "mov",
    faststart: bool = False,
    audio: bool = True,
) -> bytes:
    """A video as an iPhone writes one (MOV): location (©xyz), creation time, make and model,
    a comment; H.264 pictures that change every frame, and AAC sound."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        out.metadata.update(
            {
                "location": "+54.5742-001.2350/",
                "creation_time": RECORDED_AT,
                "make": "PhoneMakerX",
                "model": "SecretModel 12",
                "comment": "filmed from my house at 14 Acacia Avenue",
            }
        )
        picture = out.add_stream("libx264", rate=fps)
        picture.width, picture.height, picture.pix_fmt = *size, "yuv420p"
        picture.metadata["creation_time"] = RECORDED_AT
        sound = out.add_stream("aac", rate=8000) if audio else None
        for n in range(int(seconds * fps)):
            pixels = np.full((size[1], size[0], 3), (n * 9) % 255, dtype=np.uint8)
            for packet in picture.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in picture.encode():
            out.mux(packet)
        if sound is not None:
            for n in range(int(seconds * 8000) // 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = 8000, n * 1024
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path.read_bytes()


def portrait_video(path: Path) -> bytes:
    """As phones record held upright: landscape pictures and a display rotation of 90°."""
    with av.open(str(path), "w", format="mov") as out:
        picture = out.add_stream("libx264", rate=10)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        picture.set_display_rotation(90)
        for _ in range(10):
            pixels = np.zeros((48, 64, 3), dtype=np.uint8)
            for packet in picture.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in picture.encode():
            out.mux(packet)
    return path.read_bytes()


def two_hour_video(path: Path) -> bytes:
    """A real video of 2 h 10 min: 16 x 16 pixels, one picture every ten minutes (13 in all).
    Its header says 2 h because it is 2 h long; it is small because nothing moves."""
    with av.open(str(path), "w", format="mp4") as out:
        picture = out.add_stream("libx264", rate=Fraction(1, 600))
        picture.width = picture.height = 16
        picture.pix_fmt = "yuv420p"
        picture.codec_context.time_base = Fraction(1, 1)
        for n in range(13):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = n * 600, Fraction(1, 1)
            for packet in picture.encode(frame):
                out.mux(packet)
        for packet in picture.encode():
            out.mux(packet)
    return path.read_bytes()


def duration_of(data: bytes) -> tuple[float, float]:
    """The video stream's length and one frame's, from the file's own header."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return float(stream.duration * stream.time_base), 1 / float(stream.average_rate), frames


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def video_dir(use_media_store):
    """Each test keeps its videos in its own folder, then in its own bucket (moto's S3
    server): every test here runs on both stores."""
    return use_media_store.folder("videos")


def upload(client, headers, report_id, data, filename="IMG_0042.MOV", key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        f"/v1/reports/{report_id}/videos",
        data={"video": (io.BytesIO(data), filename, "video/quicktime")},
        content_type="multipart/form-data",
        headers={**headers, **extra},
    )


def files_in(folder) -> list[Path]:
    return media_stores.stored_files(folder, recursive=True)


def the_video(client, headers, report_id) -> dict:
    report = client.get(f"/v1/reports/{report_id}", headers=headers)
    assert report.status_code == 200
    [video] = report.get_json()["videos"]
    return video


def work(app) -> videos.WorkerStats:
    with app.app_context():
        return run_media_worker(once=True, owner="test-worker")


def video_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Video))


# --- a phone's video, from upload to viewing ------------------------------------------------


def test_phone_video_is_processing_then_served_with_no_location_time_make_or_model(
    app, client, auth, report_id, video_dir, tmp_path
):
    original = phone_video(tmp_path / "IMG_0042.MOV")
    for secret in (*SECRETS, RECORDED_AT_BOX):  # the test video really carries all of it
        assert secret in original, secret

    response = upload(client, auth, report_id, original)

    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert accepted["state"] == "processing" and accepted["url"] is None
    assert response.headers["Location"].endswith(f"/videos/{accepted['id']}")
    shown = the_video(client, auth, report_id)
    assert (shown["state"], shown["url"], shown["poster_url"]) == ("processing", None, None)
    # Held in quarantine, served to nobody (not even its resident) until processed.
    [quarantined] = files_in(video_dir)
    assert quarantined.parent.name == "quarantine" and quarantined.read_bytes() == original
    waiting = client.get(f"/v1/reports/{report_id}/videos/{accepted['id']}", headers=auth)
    assert_problem(waiting, 409, "video-not-ready")

    assert work(app).ready == 1

    video = the_video(client, auth, report_id)
    assert video["state"] == "ready" and video["failure_reason"] is None
    served = client.get(video["url"], headers=auth)
    assert served.status_code == 200 and served.mimetype == "video/mp4"
    assert served.headers["Cache-Control"] == "private, max-age=3600"
    data = served.get_data()
    for secret in (*SECRETS, RECORDED_AT_BOX, b"Lavf"):
        assert secret not in data, secret
    boxes = media.walk_boxes(data)
    assert b"moov" in boxes and b"udta" not in boxes and b"meta" not in boxes
    with av.open(io.BytesIO(data)) as container:
        assert dict(container.metadata).keys() <= {
            "major_brand",
            "minor_version",
            "compatible_brands",
        }
        assert "creation_time" not in container.streams.video[0].metadata
    # The same length, to within a frame, and every picture still there.
    (before, frame, frames_before), (after, _, frames_after) = (
        duration_of(original),
        duration_of(data),
    )
    assert abs(after - before) <= frame + 1e-6 and frames_after == frames_before
    assert video["duration_seconds"] == pytest.approx(before, abs=frame)
    assert (video["width"], video["height"]) == (64, 48)
    # A player asks for pieces.
    piece = client.get(video["url"], headers={**auth, "Range": "bytes=0-99"})
    assert piece.status_code == 206 and piece.get_data() == data[:100]

    poster = client.get(video["poster_url"], headers=auth)
    assert poster.status_code == 200 and poster.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(poster.get_data())) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        assert not image.getexif() and "comment" not in image.info
    # The original is gone: only the clean video and its poster are kept.
    assert sorted(p.suffix for p in files_in(video_dir)) == [".jpg", ".mp4"]


def test_video_is_served_in_ranges_with_the_same_http_whichever_store_holds_it(
    app, client, auth, report_id, media_store, tmp_path
):
    assert upload(client, auth, report_id, phone_video(tmp_path / "v.mov")).status_code == 202
    assert work(app).ready == 1
    url = the_video(client, auth, report_id)["url"]

    whole = client.get(url, headers=auth)
    data, size = whole.get_data(), len(whole.get_data())
    assert whole.status_code == 200 and whole.content_length == size > 2000
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "private, max-age=3600"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Content-Disposition"] == "inline"
    assert whole.headers["Expires"] and whole.last_modified is not None
    etag = whole.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    def get(**headers):
        return client.get(url, headers={**auth, **headers})

    middle = get(Range="bytes=1000-1999")
    assert middle.status_code == 206 and middle.get_data() == data[1000:2000]
    assert middle.headers["Content-Range"] == f"bytes 1000-1999/{size}"
    assert middle.content_length == 1000
    tail = get(Range="bytes=-100")
    assert tail.status_code == 206 and tail.get_data() == data[-100:]
    rest = get(Range=f"bytes={size - 10}-")
    assert rest.status_code == 206 and rest.get_data() == data[-10:]
    beyond = get(Range=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    assert get(**{"If-None-Match": etag}).status_code == 304
    # A Range for another version of the file is ignored: the whole of this one is sent.
    stale = get(Range="bytes=0-99", **{"If-Range": '"another-version"'})
    assert stale.status_code == 200 and stale.get_data() == data
    fresh = get(Range="bytes=0-99", **{"If-Range": etag})
    assert fresh.status_code == 206 and fresh.get_data() == data[:100]
    head = client.head(url, headers=auth)
    assert head.status_code == 200 and head.content_length == size and head.get_data() == b""


@pytest.mark.parametrize("media_store", ["s3"], indirect=True)
def test_a_range_from_the_bucket_fetches_only_that_range(
    app, client, auth, report_id, media_store, video_dir, tmp_path
):
    assert upload(client, auth, report_id, phone_video(tmp_path / "v.mov")).status_code == 202
    assert work(app).ready == 1
    url = the_video(client, auth, report_id)["url"]
    fetched: list[str | None] = []

    def record(params, **_):
        fetched.append(params.get("Range"))

    s3 = videos.video_store().bucket.client
    s3.meta.events.register("provide-client-params.s3.GetObject", record)
    try:
        piece = client.get(url, headers={**auth, "Range": "bytes=500-599"})
        assert piece.status_code == 206 and len(piece.get_data()) == 100
        assert (
            client.get(url, headers={**auth, "If-None-Match": piece.headers["ETag"]}).status_code
            == 304
        )
    finally:
        s3.meta.events.unregister("provide-client-params.s3.GetObject", record)
    assert fetched == ["bytes=500-599"]  # that range alone; nothing for the 304
    # Every object was stored with its type and the encryption the URL asks for.
    stored = video_dir.object_settings()
    assert {head["ContentType"] for head in stored} == {"video/mp4", "image/jpeg"}
    assert {head["ServerSideEncryption"] for head in stored} == {"AES256"}


def test_mp4_and_3gp_are_taken_as_well(app, client, auth, report_id, tmp_path):
    for container in ("mp4", "3gp"):
        data = phone_video(tmp_path / f"clip.{container}", container=container, audio=False)
        assert upload(client, auth, report_id, data).status_code == 202
    assert work(app).ready == 2
    report = client.get(f"/v1/reports/{report_id}", headers=auth).get_json()
    assert [v["state"] for v in report["videos"]] == ["ready", "ready"]
    for video in report["videos"]:
        assert client.get(video["url"], headers=auth).status_code == 200


def test_video_filmed_upright_stays_upright_and_so_does_its_poster(
    app, client, auth, report_id, tmp_path
):
    assert upload(client, auth, report_id, portrait_video(tmp_path / "v.mov")).status_code == 202
    work(app)
    video = the_video(client, auth, report_id)
    assert (video["width"], video["height"]) == (48, 64)
    with av.open(io.BytesIO(client.get(video["url"], headers=auth).get_data())) as container:
        assert next(container.decode(video=0)).rotation == 90
    poster = client.get(video["poster_url"], headers=auth).get_data()
    with Image.open(io.BytesIO(poster)) as image:
        assert image.size == (48, 64)


def test_staff_and_the_partner_it_was_referred_to_fetch_the_video_and_its_poster(
    app, client, auth, report_id, tmp_path
):
    assert upload(client, auth, report_id, phone_video(tmp_path / "v.mov")).status_code == 202
    reviewer = bearer(signed_in(app, client, "reviewer")["access_token"])
    partner_user = user_with_role(app, "partner")
    other_partner = user_with_role(app, "partner")
    with app.app_context():
        db.session.add(Referral(report_id=report_id, partner_id=partner_user.partner_id))
        db.session.commit()
    partner = bearer(login(client, partner_user.email)["access_token"])
    stranger = bearer(login(client, other_partner.email)["access_token"])
    staff_view = client.get(f"/v1/staff/reports/{report_id}", headers=reviewer).get_json()
    [waiting] = staff_view["videos"]
    assert waiting["state"] == "processing" and waiting["url"] is None
    sign_in(client, app, "reviewer")  # the console, in the same client (cookie session)
    page = client.get(f"/console/reports/{report_id}").get_data(as_text=True)
    assert "Video 1: processing" in page

    work(app)

    [video] = client.get(f"/v1/staff/reports/{report_id}", headers=reviewer).get_json()["videos"]
    assert client.get(video["url"], headers=reviewer).mimetype == "video/mp4"
    assert client.get(video["poster_url"], headers=reviewer).mimetype == "image/jpeg"
    page = client.get(f"/console/reports/{report_id}").get_data(as_text=True)
    link = f"/console/reports/{report_id}/videos/{video['id']}"
    assert f'href="{link}"' in page and client.get(link).mimetype == "video/mp4"
    referrals = client.get("/v1/partner/referrals", headers=partner).get_json()["items"]
    detail = client.get(f"/v1/partner/referrals/{referrals[0]['id']}", headers=partner)
    [referred] = detail.get_json()["videos"]
    assert referred["url"] == f"/v1/partner/videos/{video['id']}"
    assert client.get(referred["url"], headers=partner).mimetype == "video/mp4"
    assert client.get(referred["poster_url"], headers=partner).mimetype == "image/jpeg"
    # Another partner, or another resident, is told nothing exists.
    assert_problem(client.get(referred["url"], headers=stranger), 404)
    other = bearer(register_device(client)["access_token"])
    assert_problem(client.get(f"/v1/reports/{report_id}/videos/{video['id']}", headers=other), 404)


# --- refused at upload: a clear 4xx, nothing kept -------------------------------------------


def test_truncated_video_is_refused_at_upload(app, client, auth, report_id, video_dir, tmp_path):
    whole = phone_video(tmp_path / "v.mov", seconds=4)
    response = upload(client, auth, report_id, whole[: len(whole) // 2])  # index was at the end
    body = assert_problem(response, 422, "video-invalid")
    assert body["reason"] == "unreadable" and "MP4, MOV or 3GP" in body["detail"]
    assert video_rows(app) == 0 and files_in(video_dir) == []


def test_photo_sent_as_a_video_is_refused(app, client, auth, report_id, video_dir):
    picture = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(picture, "JPEG")
    body = assert_problem(upload(client, auth, report_id, picture.getvalue()), 422)
    assert body["reason"] == "unreadable"
    assert video_rows(app) == 0 and files_in(video_dir) == []


def test_two_hour_video_is_refused_from_its_header_before_anything_is_decoded(
    app, client, auth, report_id, video_dir, tmp_path, monkeypatch
):
    data = two_hour_video(tmp_path / "long.mp4")
    with av.open(io.BytesIO(data)) as container:  # honestly that long
        assert container.duration / av.time_base > 2 * 3600
    decoded = []
    monkeypatch.setattr(media, "transcode", lambda *a, **k: decoded.append(a))

    body = assert_problem(upload(client, auth, report_id, data), 422, "video-too-long")

    assert body["reason"] == "too_long" and "60 seconds" in body["detail"]
    assert decoded == [] and video_rows(app) == 0 and files_in(video_dir) == []


def test_header_that_understates_the_length_is_held_to_the_limit_while_decoding(
    app, client, auth, report_id, tmp_path, monkeypatch
):
    """A header claiming less than the pictures run for gains nothing: the worker counts."""
    assert upload(client, auth, report_id, phone_video(tmp_path / "v.mov", seconds=4)).status_code
    monkeypatch.setitem(app.config, "VIDEO_MAX_SECONDS", 2)
    monkeypatch.setattr(media, "_declared_duration", lambda container: 1.0)

    assert work(app).failed == 1

    video = the_video(client, auth, report_id)
    assert (video["state"], video["failure_reason"], video["url"]) == ("failed", "too_long", None)


def test_upload_of_60_mb_is_refused_unread(app, client, auth, report_id, video_dir):
    """Declared too large: refused before a byte of the body is read."""
    body = CountingStream(60 * 1024 * 1024)
    response = client.open(
        EnvironBuilder(
            app=app,
            path=f"/v1/reports/{report_id}/videos",
            method="POST",
            headers=auth,
            input_stream=body,
            content_type="multipart/form-data; boundary=copa",
            content_length=body.size,
        )
    )
    assert_problem(response, 413)
    assert body.consumed == 0
    assert video_rows(app) == 0 and files_in(video_dir) == []


def test_chunked_upload_of_60_mb_stops_being_read_at_the_cap(
    app, client, auth, report_id, video_dir
):
    """No length declared (chunked): read only up to the cap, never the whole 60 MB."""
    body = CountingStream(60 * 1024 * 1024)
    builder = EnvironBuilder(
        app=app,
        path=f"/v1/reports/{report_id}/videos",
        method="POST",
        headers=auth,
        input_stream=body,
        content_type="multipart/form-data; boundary=copa",
    )
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True  # as gunicorn says of a chunked body
    response = client.open(environ)
    assert_problem(response, 413)
    assert body.consumed <= 51 * 1024 * 1024
    assert video_rows(app) == 0 and files_in(video_dir) == []


def test_video_one_byte_over_the_cap_is_refused_as_it_is_copied(
    app, client, auth, report_id, video_dir, tmp_path, monkeypatch
):
    data = phone_video(tmp_path / "v.mov")
    monkeypatch.setitem(app.config, "VIDEO_MAX_BYTES", len(data) - 1)
    body = assert_problem(upload(client, auth, report_id, data), 413, "video-too-large")
    assert body["reason"] == "too_large"
    assert video_rows(app) == 0 and files_in(video_dir) == []
    monkeypatch.setitem(app.config, "VIDEO_MAX_BYTES", len(data))
    assert upload(client, auth, report_id, data).status_code == 202


class CountingStream(io.RawIOBase):
    """A multipart body of ``size`` bytes, made as it is read, counting what was read."""

    def __init__(self, size: int) -> None:
        self.head = (
            b'--copa\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        )
        self.size, self.position, self.consumed = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # the test client measures a stream; seeking reads nothing

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.position)
        if n <= 0:
            return 0
        chunk = bytearray(n)
        head = self.head[self.position : self.position + n]
        chunk[: len(head)] = head
        buffer[:n] = chunk
        self.position += n
        self.consumed += n
        return n


# --- failed in the worker: told to the resident, never a 5xx ---------------------------------


def test_video_cut_off_after_its_header_fails_with_a_reason_the_resident_sees(
    app, client, auth, report_id, video_dir, tmp_path
):
    whole = phone_video(tmp_path / "v.mov", seconds=6, size=(160, 120), faststart=True)
    response = upload(client, auth, report_id, whole[: len(whole) // 2])  # header first: taken
    assert response.status_code == 202, response.get_json()

    assert work(app).failed == 1

    video = the_video(client, auth, report_id)
    assert video["state"] == "failed" and video["failure_reason"] in ("undecodable", "incomplete")
    assert (video["url"], video["poster_url"]) == (None, None)
    fetched = client.get(f"/v1/reports/{report_id}/videos/{video['id']}", headers=auth)
    assert_problem(fetched, 404)
    assert files_in(video_dir) == []  # the quarantined original went too


def test_video_that_killed_workers_three_times_is_failed_not_tried_for_ever(
    app, client, auth, report_id, video_dir, tmp_path
):
    assert upload(client, auth, report_id, phone_video(tmp_path / "v.mov")).status_code == 202
    with app.app_context():
        db.session.execute(sa.update(Video).values(attempts=videos.MAX_ATTEMPTS))
        db.session.commit()

    assert work(app).ready == 0

    video = the_video(client, auth, report_id)
    assert (video["state"], video["failure_reason"]) == ("failed", "unprocessable")
    assert files_in(video_dir) == []


# --- retries and limits ---------------------------------------------------------------------


def test_retried_upload_with_the_same_key_makes_one_video(app, client, auth, report_id, tmp_path):
    data = phone_video(tmp_path / "v.mov")
    first = upload(client, auth, report_id, data, key="video-once")
    again = upload(client, auth, report_id, data, key="video-once")
    assert first.status_code == again.status_code == 202
    assert first.get_json()["id"] == again.get_json()["id"]
    assert video_rows(app) == 1


def test_third_video_on_a_report_is_refused(app, client, auth, report_id, tmp_path):
    data = phone_video(tmp_path / "v.mov")
    assert [upload(client, auth, report_id, data).status_code for _ in range(2)] == [202, 202]
    assert_problem(upload(client, auth, report_id, data), 409, "video-limit")


# --- retention ------------------------------------------------------------------------------


def test_retention_purge_deletes_old_videos_and_their_files(
    app, client, auth, report_id, video_dir, tmp_path
):
    assert upload(client, auth, report_id, phone_video(tmp_path / "a.mov")).status_code == 202
    work(app)
    assert upload(client, auth, report_id, phone_video(tmp_path / "b.mov")).status_code == 202
    assert len(files_in(video_dir)) == 3  # one ready (video and poster), one in quarantine
    with app.app_context():
        db.session.execute(sa.update(Video).values(created_at=utcnow() - timedelta(days=366)))
        db.session.commit()
        assert purge_expired_videos() == 2
    assert video_rows(app) == 0 and files_in(video_dir) == []
    assert client.get(f"/v1/reports/{report_id}", headers=auth).get_json()["videos"] == []


def test_unknown_video_is_not_found(client, auth, report_id):
    missing = client.get(f"/v1/reports/{report_id}/videos/{uuid.uuid4()}", headers=auth)
    assert_problem(missing, 404, "video-not-found")


def test_video_larger_than_the_service_wide_body_cap_is_taken(
    app, client, auth, report_id, tmp_path
):
    """Videos have their own cap (50 MiB), above the 9 MiB every other body is held to."""
    data = phone_video(tmp_path / "v.mov")
    padding = 20 * 1024 * 1024
    large = data + struct.pack(">I4s", padding + 8, b"free") + bytes(padding)  # valid padding
    assert len(large) > app.config["MAX_BODY_BYTES"]
    response = upload(client, auth, report_id, large)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["state"] == "processing"
