"""Thumbnails: one upright JPEG of a video (near 10% in) or of an image."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .probe import ProbeError, check_dimensions, is_cover_art

# Far enough in to skip fades from black and title cards, early enough for short clips.
POSITION = 0.10
JPEG_QUALITY = 4  # MJPEG qscale: 2 (best) .. 31 (worst)


def make_thumbnail(path: str | Path, out_path: str | Path, max_size: int = 320) -> tuple[int, int]:
    """Write a JPEG of the picture at 10% of `path`'s duration (an image's only picture)
    to `out_path`, upright and fitted within `max_size` x `max_size`; return its
    (width, height). Raises ProbeError for audio (no picture) or an unreadable file."""
    with Path(path).open("rb") as fh:
        try:
            with av.open(fh, options={"protocol_whitelist": "data"}) as container:
                video = next((s for s in container.streams.video if not is_cover_art(s)), None)
                if video is None:
                    raise ProbeError("the file has no picture to make a thumbnail of")
                check_dimensions(video.codec_context.width, video.codec_context.height)
                frame = _frame_near(container, video, POSITION)
        except (av.FFmpegError, OSError) as exc:
            raise ProbeError(f"cannot decode a picture for the thumbnail ({exc})") from None
    picture = frame.to_ndarray(format="rgb24")
    # PyAV's rotation is counter-clockwise, like np.rot90 with a positive k.
    picture = np.ascontiguousarray(np.rot90(picture, k=((frame.rotation or 0) % 360) // 90))
    height, width = picture.shape[:2]
    scale = min(1.0, max_size / max(width, height))
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    Path(out_path).write_bytes(_jpeg(picture, size))
    return size


def _frame_near(container, video, position: float) -> av.VideoFrame:
    """The first frame at or after `position` of the duration, else the last one seen."""
    target = None
    if container.duration and video.time_base:
        target = container.duration / av.time_base * position
        start = (video.start_time or 0) * video.time_base
        try:
            # Seek to the keyframe before the target, then decode forward to it.
            container.seek(int((target + float(start)) / video.time_base), stream=video)
        except av.FFmpegError:
            container.seek(0)  # no index to seek with: walk from the start instead
    last = None
    for frame in container.decode(video):
        last = frame
        if target is None or frame.time is None or frame.time >= target:
            return frame
    if last is None:
        raise ProbeError("no picture could be decoded for the thumbnail")
    return last


def _jpeg(picture: np.ndarray, size: tuple[int, int]) -> bytes:
    # A JPEG is exactly one MJPEG packet: encode without a container.
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    frame = frame.reformat(width=size[0], height=size[1], format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = size
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.qscale = True
    encoder.global_quality = JPEG_QUALITY * 118  # FF_QP2LAMBDA
    packets = encoder.encode(frame) + encoder.encode(None)
    return b"".join(bytes(p) for p in packets)
