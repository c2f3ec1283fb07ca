"""Videos from phones, read and written with PyAV: the header probe and the clean re-encode.

PyAV (``av``) binds FFmpeg's libraries and ships them, with libx264, in its wheels: no system
FFmpeg, and no subprocess whose arguments could be steered. Only the ISO base media demuxer
(MP4, MOV, 3GP) is ever used, forced by name, so a file can never pick another one (FFmpeg's
playlist and concat demuxers read other files and URLs); references to outside data (``dref``)
stay off, as FFmpeg's mov demuxer leaves them.

Nothing of the original's container survives: the pictures are decoded and encoded again
(H.264, at most ``MAX_SIDE`` pixels on the long side) and the sound likewise (AAC), into a new
MP4 written with no metadata (no ``creation_time``, location, make or model, encoder tag), in
which any ``udta`` or ``meta`` box FFmpeg still writes (empty) is turned into padding.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

DEMUXER = "mov"  # FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2": what phones record
MAX_PIXELS = 4096 * 2160  # 4K (DCI) a frame: phones' largest; more is refused unread
MAX_SIDE = 1280  # re-encoded at most 720p-ish: plenty to see, and quick to make and fetch
CRF = "27"
# What FFmpeg (through PyAV) raises for a broken, hostile or unsupported file.
_UNREADABLE = (av.error.FFmpegError, ValueError, OSError, EOFError, IndexError, KeyError)


class MediaRefused(Exception):
    """The file cannot become a video here; ``reason`` is one word for the resident's app."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The reasons (VideoOut.failure_reason / the problem's ``reason``).
UNREADABLE = "unreadable"  # not an MP4/MOV/3GP container we can open, or no picture in it
TOO_LONG = "too_long"
TOO_MANY_PIXELS = "too_many_pixels"  # larger frames than 4K
UNDECODABLE = "undecodable"  # the container opened but its pictures do not decode
INCOMPLETE = "incomplete"  # far less picture than the header declares (a cut-off upload)
UNPROCESSABLE = "unprocessable"  # the worker died on it again and again


@dataclass(frozen=True)
class Probe:
    """What a video's container header says, nothing decoded."""

    duration: float
    width: int
    height: int


def probe(path: Path, max_seconds: float) -> Probe:
    """Read the container's header: refuse what is not MP4/MOV/3GP with a picture, or is longer
    than ``max_seconds`` or larger than ``MAX_PIXELS`` a frame, before any frame is decoded."""
    try:
        with av.open(str(path), format=DEMUXER, metadata_errors="ignore") as container:
            if not container.streams.video:
                raise MediaRefused(UNREADABLE)
            stream = container.streams.video[0]
            if stream.codec_context is None:  # a codec FFmpeg does not know
                raise MediaRefused(UNREADABLE)
            width, height = stream.codec_context.width, stream.codec_context.height
            duration = _declared_duration(container)
    except MediaRefused:
        raise
    except _UNREADABLE as error:
        raise MediaRefused(UNREADABLE) from error
    if duration is None or width < 1 or height < 1:
        raise MediaRefused(UNREADABLE)
    if duration > max_seconds:
        raise MediaRefused(TOO_LONG)
    if width * height > MAX_PIXELS:
        raise MediaRefused(TOO_MANY_PIXELS)
    return Probe(duration, width, height)


def _declared_duration(container: av.container.InputContainer) -> float | None:
    durations = []
    if container.duration is not None and container.duration > 0:
        durations.append(container.duration / av.time_base)
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            durations.append(float(stream.duration * stream.time_base))
    return max(durations) if durations else None


@dataclass(frozen=True)
class Encoded:
    """What the clean re-encode made."""

    duration: float
    width: int  # as shown (turned by the display rotation kept from the phone)
    height: int
    poster_png: bytes  # the first picture, upright, as a lossless PNG for the photo cleaner


def _even_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def transcode(
    source: Path, target: Path, max_seconds: float, progress: Callable[[], None] = lambda: None
) -> Encoded:
    """Decode ``source`` and encode its pictures and sound into a new MP4 at ``target`` with no
    metadata. ``progress`` is called every few frames (the worker renews its lease there).

    Held to ``max_seconds`` while decoding too: a header that understates the length does not
    buy more. Raises ``MediaRefused``.
    """
    try:
        return _transcode(source, target, max_seconds, progress)
    except MediaRefused:
        raise
    except _UNREADABLE as error:
        raise MediaRefused(UNDECODABLE) from error


def _transcode(
    source: Path, target: Path, max_seconds: float, progress: Callable[[], None]
) -> Encoded:
    with av.open(str(source), format=DEMUXER, metadata_errors="ignore") as inp:
        if not inp.streams.video:
            raise MediaRefused(UNREADABLE)
        video_in = inp.streams.video[0]
        if video_in.codec_context is None:
            raise MediaRefused(UNREADABLE)
        audio_in = inp.streams.audio[0] if inp.streams.audio else None
        if audio_in is not None and audio_in.codec_context is None:
            audio_in = None  # sound FFmpeg cannot decode: the pictures alone
        declared = _declared_duration(inp)
        if declared is None:
            raise MediaRefused(UNREADABLE)
        if declared > max_seconds:
            raise MediaRefused(TOO_LONG)
        width, height = video_in.codec_context.width, video_in.codec_context.height
        if width < 1 or height < 1:
            raise MediaRefused(UNREADABLE)
        if width * height > MAX_PIXELS:
            raise MediaRefused(TOO_MANY_PIXELS)
        out_width, out_height = _even_size(width, height)
        # fflags +bitexact: no "encoder" tag; movflags +faststart: the index first, so a phone
        # starts playing before the whole file has arrived.
        with av.open(
            str(target),
            "w",
            format="mp4",
            options={"movflags": "+faststart", "fflags": "+bitexact"},
        ) as out:
            video_out = out.add_stream(
                "libx264",
                rate=video_in.average_rate or Fraction(30),
                options={"preset": "veryfast", "crf": CRF},
            )
            video_out.width, video_out.height, video_out.pix_fmt = out_width, out_height, "yuv420p"
            video_out.codec_context.time_base = Fraction(1, 90000)
            audio_out = resampler = None
            if audio_in is not None and audio_in.codec_context.sample_rate:
                rate = audio_in.codec_context.sample_rate
                audio_out = out.add_stream("aac", rate=rate)
                layout = "mono" if audio_in.codec_context.channels == 1 else "stereo"
                audio_out.layout = layout
                resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            out.metadata.clear()
            for stream in out.streams:
                stream.metadata.clear()

            poster: bytes | None = None
            rotation = 0
            start: float | None = None
            end = 0.0
            frames = 0
            decode = (video_in, audio_in) if audio_out is not None else (video_in,)
            for frame in inp.decode(*decode):
                if isinstance(frame, av.VideoFrame):
                    seconds = float(frame.time or 0.0)
                    start = seconds if start is None else start
                    if seconds - start > max_seconds + 1:
                        raise MediaRefused(TOO_LONG)
                    if poster is None:
                        poster = _poster(frame)
                        rotation = frame.rotation or 0
                        if rotation:  # a phone held upright: kept as players expect it
                            video_out.set_display_rotation(rotation)
                    picture = frame.reformat(width=out_width, height=out_height, format="yuv420p")
                    picture.pts = round((seconds - start) * 90000)
                    picture.time_base = Fraction(1, 90000)
                    picture.duration = round(_frame_seconds(video_in) * 90000)
                    end = seconds - start + _frame_seconds(video_in)
                    for packet in video_out.encode(picture):
                        out.mux(packet)
                    frames += 1
                    if frames % 30 == 0:
                        progress()
                else:
                    for sound in resampler.resample(frame):
                        for packet in audio_out.encode(sound):
                            out.mux(packet)
            if poster is None:
                raise MediaRefused(UNDECODABLE)
            for packet in video_out.encode():
                out.mux(packet)
            if audio_out is not None:
                for sound in resampler.resample(None):
                    for packet in audio_out.encode(sound):
                        out.mux(packet)
                for packet in audio_out.encode():
                    out.mux(packet)
        # A cut-off upload whose header survived decodes to much less than it declares.
        if end < declared - max(1.0, 0.1 * declared):
            raise MediaRefused(INCOMPLETE)
    pad_metadata_boxes(target)
    if rotation % 180:  # the size a viewer sees
        out_width, out_height = out_height, out_width
    return Encoded(round(end, 3), out_width, out_height, poster)


def _frame_seconds(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.0


def _poster(frame: av.VideoFrame) -> bytes:
    """The frame as a PNG, upright (the photo cleaner then makes the stored JPEG)."""
    image = frame.to_image().convert("RGB")
    if frame.rotation:
        image = image.rotate(frame.rotation, expand=True)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- the boxes of the written file ------------------------------------------------------------

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
_METADATA_BOXES = {b"udta", b"meta"}


def pad_metadata_boxes(path: Path) -> int:
    """Turn every ``udta`` and ``meta`` box in ``path``'s movie header into ``free`` padding of
    the same size (zeros), so no chunk offset moves; how many were turned."""
    with open(path, "r+b") as handle:
        data = bytearray(handle.read())
        turned = _pad(data, 0, len(data))
        if turned:
            handle.seek(0)
            handle.write(data)
    return turned


def _boxes(data: bytes | bytearray, offset: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """The boxes between ``offset`` and ``end``, in order: (type, start, header size, size);
    stops at the first box that does not fit."""
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset, header, size
        offset += size


def _pad(data: bytearray, offset: int, end: int) -> int:
    turned = 0
    for kind, start, header, size in _boxes(data, offset, end):
        if kind in _METADATA_BOXES:
            data[start + 4 : start + 8] = b"free"
            data[start + header : start + size] = bytes(size - header)
            turned += 1
        elif kind in _CONTAINER_BOXES:
            turned += _pad(data, start + header, start + size)
    return turned


def walk_boxes(data: bytes) -> list[bytes]:
    """The box types of an MP4's movie header, depth first (for tests and checks)."""
    found: list[bytes] = []

    def walk(offset: int, end: int) -> None:
        for kind, start, header, size in _boxes(data, offset, end):
            found.append(kind)
            if kind in _CONTAINER_BOXES or kind == b"udta":
                walk(start + header, start + size)
            elif kind == b"meta":
                walk(start + header + 4, start + size)

    walk(0, len(data))
    return found
