"""The media probe: what a stored file is, decided from its bytes, never its name.

`probe(path)` hashes the file, opens it with PyAV, decodes its first frames (a file whose
header parses but whose pictures do not is refused here, not at render time) and demuxes
the rest to find truncation. It fills exactly the `ProbedMedia` columns.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import av

from shared.digests import file_sha256
from shared.edit_sources import MediaKind
from worker.render.probe import keyframe_times

MAX_SIDE = 16384
MAX_PIXELS = 100_000_000
# A stream that stops this far short of the duration its header declares was cut off.
TRUNCATION_SLACK = 0.25  # seconds, on top of 5% of the duration

# Demuxers of single pictures; `image2` also reads numbered sequences, but we hand it one file.
_IMAGE_FORMATS = {"image2", "gif", "webp_pipe"}
_CONTENT_TYPES = {
    "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "aac": "audio/aac",
    "avi": "video/x-msvideo", "mpegts": "video/mp2t", "mpeg": "video/mpeg", "flv": "video/x-flv",
    "png_pipe": "image/png", "jpeg_pipe": "image/jpeg", "webp_pipe": "image/webp",
    "gif": "image/gif", "bmp_pipe": "image/bmp", "tiff_pipe": "image/tiff",
}
_WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis"}


class ProbeError(Exception):
    """The file is not usable media; `reason` says why in words for the uploader."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ProbeResult:
    """The `ProbedMedia` columns. Dimensions are as displayed (after `rotation`)."""

    media_kind: MediaKind
    content_type: str
    size: int
    sha256: str
    duration: float | None = None  # seconds; None for images
    fps: float | None = None  # average frame rate; None for images and audio
    width: int | None = None
    height: int | None = None
    # Degrees counter-clockwise that the display matrix turns the coded picture
    # (PyAV's VideoFrame.rotation), normalised to 0, 90, 180 or 270.
    rotation: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    # A video's keyframes: their source times as exact fractions ("n/d" seconds, as the
    # renderer counts them), where the piece plan cuts its long clips; None for others.
    keyframes: list[str] | None = None

    def columns(self) -> dict:
        """The fields as keyword arguments for a VideoFile or Asset row."""
        return asdict(self)

    def described(self) -> dict:
        """The fields a client is shown (a video file's analysis): the columns but the
        keyframes, which only the piece plan reads."""
        return {name: value for name, value in self.columns().items() if name != "keyframes"}


@dataclass
class _Scan:
    """What one pass over the packets saw."""

    frame: av.VideoFrame | None = None  # the first decoded picture
    video_frames: int = 0  # decoded, counting only up to 2: a still or a motion picture
    audio_frame: av.AudioFrame | None = None
    audio_packets: int = 0
    end: float = 0.0  # seconds: where the last demuxed packet ends
    keyframes: list[int] = field(default_factory=list)  # the video's keyframe packets' pts


def probe(path: str | Path) -> ProbeResult:
    """Describe the media file at `path`, or raise ProbeError with a reason."""
    path = Path(path)
    size, sha256 = _size_and_hash(path)
    with path.open("rb") as fh:
        try:
            # A file object plus a protocol whitelist: playlists (HLS, concat) inside an
            # upload can never make FFmpeg open other local files or URLs. max_pixels
            # keeps stream probing from decoding a decompression-bomb picture.
            container = av.open(
                fh, options={"protocol_whitelist": "data", "max_pixels": str(MAX_PIXELS)}
            )
        except (av.FFmpegError, OSError) as exc:
            raise ProbeError(_unreadable(path, exc)) from None
        with container:
            return _describe(container, size, sha256)


def _describe(container, size: int, sha256: str) -> ProbeResult:
    video = next((s for s in container.streams.video if not is_cover_art(s)), None)
    audio = next(iter(container.streams.audio), None)
    if video is None and audio is None:
        raise ProbeError("not a media file: it holds no audio, video or image stream")
    if video is not None:
        check_dimensions(video.codec_context.width, video.codec_context.height)
    scan = _scan(container, video, audio)
    if video is not None and scan.frame is None:
        raise ProbeError("no picture could be decoded: the file is truncated or corrupt")
    if audio is not None and video is None and scan.audio_frame is None:
        raise ProbeError("the audio stream holds no samples")

    fmt = container.format.name
    duration = _duration(container, scan)
    if video is not None:
        kind = MediaKind.IMAGE if _is_still(fmt, scan, duration) else MediaKind.VIDEO
        if kind == MediaKind.VIDEO:
            _check_complete(container, scan, duration)
    else:
        kind = MediaKind.AUDIO
        _check_complete(container, scan, duration)

    result = ProbeResult(
        media_kind=kind,
        content_type=_content_type(container, kind, video, audio),
        size=size,
        sha256=sha256,
        duration=None if kind == MediaKind.IMAGE else duration,
    )
    if video is not None:
        _fill_picture(result, video, scan.frame)
    if kind == MediaKind.VIDEO:
        times = keyframe_times(scan.keyframes, video.time_base, container.start_time)
        result.keyframes = [str(t) for t in times] if times is not None else None
    if audio is not None and scan.audio_frame is not None:
        result.audio_codec = audio.codec_context.name
        result.sample_rate = scan.audio_frame.sample_rate
        result.channels = scan.audio_frame.layout.nb_channels
    return result


def _fill_picture(result: ProbeResult, video, frame: av.VideoFrame) -> None:
    # The decoded frame, not the header, is the truth: some headers omit or lie about size.
    check_dimensions(frame.width, frame.height)
    rotation = (frame.rotation or 0) % 360
    width, height = frame.width, frame.height
    if rotation in (90, 270):
        width, height = height, width
    result.width, result.height, result.rotation = width, height, rotation
    result.video_codec = video.codec_context.name
    if result.media_kind == MediaKind.VIDEO:
        rate = video.average_rate or video.guessed_rate
        result.fps = round(float(rate), 3) if rate else None


def _size_and_hash(path: Path) -> tuple[int, str]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ProbeError("the file does not exist") from None
    if size == 0:
        raise ProbeError("the file is empty (0 bytes)")
    return size, file_sha256(path)


def _unreadable(path: Path, exc: Exception) -> str:
    with path.open("rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp":
        # MP4/MOV written front to back keep their index (moov) last: cut files lose it.
        return (
            "an MP4/MOV file that cannot be read: its index (moov atom) is missing or "
            "damaged; the upload is truncated or the recording was never finished"
        )
    return (
        "not a media file, or one too damaged to read: no audio, video or image format "
        f"recognised ({_why(exc)})"
    )


def _why(exc: Exception) -> str:
    # FFmpeg messages end with the file name, which here is a temp path: drop it.
    return getattr(exc, "strerror", None) or str(exc)


def is_cover_art(stream) -> bool:
    # MP3s and M4As carry album art as a one-picture video stream: they are audio.
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def check_dimensions(width: int | None, height: int | None) -> None:
    """Refuse pictures too large to decode safely (and those whose size is unknown)."""
    if not width or not height:
        raise ProbeError(
            f"the picture size cannot be read (larger than {MAX_PIXELS // 1_000_000} "
            "megapixels, or a damaged header)"
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ProbeError(f"the picture is {width}x{height}: more than {MAX_SIDE} pixels a side")
    if width * height > MAX_PIXELS:
        raise ProbeError(
            f"the picture is {width}x{height}: more than {MAX_PIXELS // 1_000_000} megapixels"
        )


def _scan(container, video, audio) -> _Scan:
    """Decode the first frames, then only demux the rest (cheap) to reach the end."""
    scan = _Scan()
    streams = [s for s in (video, audio) if s is not None]
    try:
        for packet in container.demux(streams):
            if packet.size and packet.pts is not None and packet.time_base is not None:
                start = packet.stream.start_time or 0
                ends = (packet.pts - start + (packet.duration or 0)) * packet.time_base
                scan.end = max(scan.end, float(ends))
            if packet.stream is video:
                if packet.is_keyframe and packet.pts is not None:
                    scan.keyframes.append(packet.pts)
                if scan.video_frames < 2:  # an empty packet flushes the decoder
                    for frame in packet.decode():
                        scan.frame = scan.frame or frame
                        scan.video_frames += 1
            elif packet.stream is audio:
                scan.audio_packets += bool(packet.size)
                if scan.audio_frame is None:
                    scan.audio_frame = next(iter(packet.decode()), None)
    except (av.FFmpegError, OSError) as exc:
        raise ProbeError(f"the file is truncated or corrupt ({_why(exc)})") from None
    return scan


def _duration(container, scan: _Scan) -> float | None:
    if container.duration:
        return round(container.duration / av.time_base, 3)
    return round(scan.end, 3) if scan.end else None


def _is_still(fmt: str, scan: _Scan, duration: float | None) -> bool:
    if fmt.endswith("_pipe") or fmt in _IMAGE_FORMATS:
        return scan.video_frames <= 1
    # A lone picture in a video container (an MJPEG .avi of one frame) is a still too.
    return scan.video_frames <= 1 and scan.audio_packets == 0 and not duration


def _check_complete(container, scan: _Scan, duration: float | None) -> None:
    """Refuse a file whose packets stop well before the duration its header declares
    (an upload cut off mid-way: the moov atom is whole but the media data is not)."""
    if not container.duration or not duration:
        return
    if scan.end < duration * 0.95 - TRUNCATION_SLACK:
        raise ProbeError(
            f"the file is truncated: its media stops at {scan.end:.2f} s of {duration:.2f} s"
        )


def _content_type(container, kind: MediaKind, video, audio) -> str:
    fmt = container.format.name
    if fmt in _CONTENT_TYPES:
        return _CONTENT_TYPES[fmt]
    if fmt.startswith("mov,mp4"):
        brand = container.metadata.get("major_brand", "").strip()
        if brand == "qt":
            return "video/quicktime"
        return "audio/mp4" if kind == MediaKind.AUDIO else "video/mp4"
    if fmt.startswith("matroska"):
        codecs = {s.codec_context.name for s in (video, audio) if s is not None}
        family = "webm" if codecs <= _WEBM_CODECS else "x-matroska"
        return f"{kind}/{family}"
    if fmt == "ogg":
        return "video/ogg" if kind == MediaKind.VIDEO else "audio/ogg"
    if kind == MediaKind.IMAGE and video is not None:
        codec = video.codec_context.name
        return {"mjpeg": "image/jpeg", "png": "image/png"}.get(codec, f"image/{codec}")
    return "application/octet-stream"


__all__ = ["MAX_PIXELS", "MAX_SIDE", "ProbeError", "ProbeResult", "probe"]
