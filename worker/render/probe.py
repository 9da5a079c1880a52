"""What a source file holds, as the edit's source rules need it (`shared.edit.SourceInfo`)."""
from __future__ import annotations

import av

from shared.edit import SourceInfo

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
            return SourceInfo("image", None, has_audio=False, has_video=True)
        duration = _duration(container)
        kind = "video" if videos else "audio"
        return SourceInfo(kind, duration, has_audio=has_audio, has_video=bool(videos))


def _duration(container) -> float:
    if container.duration:
        return container.duration / 1_000_000
    longest = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest
