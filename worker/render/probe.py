"""What a source file holds, as the edit's source rules need it (`edit_sources.SourceInfo`),
and where its keyframes are, as the piece plan cuts on them."""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Optional

import av

from shared.edit_sources import MediaKind, SourceInfo

from .errors import SourceDecodeError

# Demuxers of single still pictures (PyAV names them this way for png/jpeg/webp/...).
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "webp", "tiff", "gif", "jpegxl", "qoi", "ppm"}


def _is_still(container, stream) -> bool:
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt == "image2":
        return True
    return stream.codec_context.name in _IMAGE_CODECS and not container.duration


def probe_source(path: str) -> SourceInfo:
    """Kind, duration and streams of a media file; SourceDecodeError if it is not media."""
    try:
        container = av.open(path)
    except (OSError, av.error.FFmpegError) as exc:
        raise SourceDecodeError(f"cannot open the source {path}: {exc}") from exc
    with container:
        # Cover art in an audio file is a picture stream, not video.
        videos = [s for s in container.streams.video
                  if not s.disposition & av.stream.Disposition.attached_pic]
        has_audio = bool(container.streams.audio)
        if videos and _is_still(container, videos[0]):
            return SourceInfo(MediaKind.IMAGE, None, has_audio=False, has_video=True)
        duration = _duration(container)
        kind = MediaKind.VIDEO if videos else MediaKind.AUDIO
        return SourceInfo(kind, duration, has_audio=has_audio, has_video=bool(videos))


def _duration(container) -> float:
    if container.duration:
        return container.duration / 1_000_000
    longest = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest


# More keyframes than this (an intra-only source) are not worth keeping: its pieces are cut
# on the grid of its time, as any source's whose keyframes are not known.
MAX_KEYFRAMES = 20_000


def keyframe_times(pts: Iterable[int], time_base: Fraction, start_time: Optional[int]
                   ) -> Optional[tuple[Fraction, ...]]:
    """Source times (exact, from the container's start, as the renderer counts them) of
    the keyframe packets of a video stream, given their `pts` in its `time_base`, in any
    order; None past MAX_KEYFRAMES. `start_time`: the container's, in microseconds."""
    origin = Fraction(start_time or 0, 1_000_000)
    found = {value * Fraction(time_base) - origin for value in pts}
    return tuple(sorted(found)) if len(found) <= MAX_KEYFRAMES else None


def source_keyframes(path: str) -> Optional[tuple[Fraction, ...]]:
    """keyframe_times of a file's first video stream (its packets demuxed, none decoded);
    None when it has none or cannot be read."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            pts = [packet.pts for packet in container.demux(stream)
                   if packet.is_keyframe and packet.pts is not None]
            return keyframe_times(pts, stream.time_base, container.start_time)
    except (OSError, av.error.FFmpegError):
        return None
