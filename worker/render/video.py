"""The pictures of the output: each clip's source frames, picked by time, fitted or cropped.

Output frame k of a clip shows the last source frame whose time is at most
start + k/fps (so VFR sources and rate changes need no special case). Geometry is done
by libav filters (transpose, crop, scale, pad, format) in one graph per clip.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import av
import av.filter
from av.stream import Discard

from shared.edit import Crop
from shared.edit_sources import MediaKind

from .errors import SourceDecodeError
from .timeline import Timeline, TimelineClip

OUTPUT_FORMAT = "yuv420p"
# A source whose pictures stop this long before the clip's end is damaged (an end within
# it was clamped, or is the last frame's own duration).
TRUNCATED_AFTER = 1


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


# Decoder and filter threads. x264 already runs 1.5 threads per core; on a machine of one
# or two cores, more threads only compete with it: frame-threaded decoding cost about 75 %
# more CPU per decoded frame than one thread (1080p H.264), slice-threaded scaling about
# 20 % more (measured). A single thread for each there; 0 is libav's own choice.
DECODE_THREADS = 1 if _usable_cpus() <= 2 else 0
FILTER_THREADS = DECODE_THREADS
# A preview's decoder skips the deblocking of B-frames: 2-4 % of the decode of 1080p H.264
# on one core, for nothing a half-size picture shows (75 dB PSNR-Y against the exact decode,
# scaled; skipping it in every frame saves 5 %, but the error drifts through each GOP: 49
# dB). Measured with bench/preview_stages.py, see bench/README.md.
PREVIEW_DECODER = {"skip_loop_filter": "bidir"}


def decoder_options(preview: bool) -> dict[str, str]:
    """The sources' decoder options (libav's names): what a piece's key hashes
    (piece_keys.py) and the one place ClipPictures takes them from."""
    return dict(PREVIEW_DECODER) if preview else {}


@dataclass(frozen=True)
class Geometry:
    """Crop a region of the (rotated) source, scale it, pad it into the output frame."""

    crop: tuple[int, int, int, int]  # x, y, w, h in source pixels
    scaled: tuple[int, int]  # w, h after scaling
    offset: tuple[int, int]  # x, y of the scaled picture inside the output

    def is_identity(self, src: tuple[int, int], out: tuple[int, int]) -> bool:
        return self.crop == (0, 0, *src) and self.scaled == out == src and self.offset == (0, 0)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def frame_geometry(src: tuple[int, int], out: tuple[int, int], framing: Optional[Crop],
                   sar: Fraction = Fraction(1)) -> Geometry:
    """Fit inside with bars (no framing), or cover, zoom and move the window (framing)."""
    sw, sh = src
    ow, oh = out
    display_w = sw * float(sar)
    if framing is None:
        scale = min(ow / display_w, oh / sh)
        w, h = min(ow, _even(display_w * scale)), min(oh, _even(sh * scale))
        return Geometry((0, 0, sw, sh), (w, h), ((ow - w) // 4 * 2, (oh - h) // 4 * 2))
    scale = max(ow / display_w, oh / sh) * framing.zoom  # output px per display px
    full_w, full_h = display_w * scale, sh * scale
    x0, x1 = _window(full_w, ow, framing.position_x)
    y0, y1 = _window(full_h, oh, framing.position_y)
    sx = scale * float(sar)  # output px per source px, horizontally
    crop_x, crop_y = int(x0 / sx), int(y0 / scale)
    crop_w = max(1, min(sw - crop_x, round((x1 - x0) / sx)))
    crop_h = max(1, min(sh - crop_y, round((y1 - y0) / scale)))
    w, h = min(ow, _even(x1 - x0)), min(oh, _even(y1 - y0))
    left = (full_w - ow) / 2 * (1 + framing.position_x)  # window's left edge, scaled px
    top = (full_h - oh) / 2 * (1 + framing.position_y)
    pad_x = min(ow - w, max(0, int(round((x0 - left) / 2)) * 2))
    pad_y = min(oh - h, max(0, int(round((y0 - top) / 2)) * 2))
    return Geometry((crop_x, crop_y, crop_w, crop_h), (w, h), (pad_x, pad_y))


def _window(full: float, size: int, position: float) -> tuple[float, float]:
    """The part of [0, full] that a window of `size`, moved by position × margin, sees."""
    left = (full - size) / 2 * (1 + position)
    return max(0.0, left), min(full, left + size)


def _ignore_others(container, wanted) -> None:
    """Have the demuxer skip the packets of every other stream (less to read and copy)."""
    for stream in container.streams:
        if stream.index != wanted.index:
            stream.discard = Discard.all


def _rotation_filters(rotation: int) -> list[tuple[str, str]]:
    # frame.rotation is counter-clockwise; turn the picture back the way players do.
    turn = round(rotation / 90) % 4
    return {0: [], 1: [("transpose", "cclock")], 2: [("hflip", ""), ("vflip", "")],
            3: [("transpose", "clock")]}[turn]


class FrameConverter:
    """One filter graph: a source frame in, an output-sized yuv420p frame out."""

    def __init__(self, frame: av.VideoFrame, out: tuple[int, int], framing: Optional[Crop],
                 sar: Optional[Fraction] = None):
        self.key = self._key(frame)
        rotation = getattr(frame, "rotation", 0) or 0
        src = (frame.width, frame.height)
        sar = Fraction(sar) if sar else Fraction(1)
        if round(rotation / 90) % 2:
            src, sar = (frame.height, frame.width), 1 / sar
        geometry = frame_geometry(src, out, framing, sar)
        self.passthrough = (not rotation and sar == 1 and frame.format.name == OUTPUT_FORMAT
                            and geometry.is_identity(src, out))
        if not self.passthrough:
            self.graph = self._build(frame, out, rotation, geometry, src)

    @staticmethod
    def _key(frame: av.VideoFrame) -> tuple:
        return frame.width, frame.height, frame.format.name

    def _build(self, frame, out, rotation, geometry: Geometry, src) -> av.filter.Graph:
        graph = av.filter.Graph()
        graph.threads = FILTER_THREADS
        nodes = [graph.add_buffer(width=frame.width, height=frame.height,
                                  format=frame.format, time_base=Fraction(1, 1000))]
        filters = list(_rotation_filters(rotation))
        if geometry.crop != (0, 0, *src):
            filters.append(("crop", "{2}:{3}:{0}:{1}:exact=1".format(*geometry.crop)))
        filters.append(("scale", "{}:{}".format(*geometry.scaled)))
        if geometry.scaled != out:
            filters.append(("pad", "{}:{}:{}:{}:black".format(*out, *geometry.offset)))
        filters += [("format", OUTPUT_FORMAT), ("setsar", "1")]
        for name, args in filters:
            nodes.append(graph.add(name, args) if args else graph.add(name))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()
        return graph

    def matches(self, frame: av.VideoFrame) -> bool:
        return self._key(frame) == self.key

    def convert(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self.passthrough:
            return frame
        frame.pts = None  # the graph needs no times; the encoder gets its own
        self.graph.push(frame)
        return self.graph.pull()


class ClipPictures:
    """The frame_count output frames of one clip, decoded from its source as they are needed."""

    def __init__(self, clip: TimelineClip, path: str, out: tuple[int, int], fps: Fraction,
                 preview: bool = False):
        self.clip, self.path, self.out, self.fps = clip, path, out, fps
        self.decoder = decoder_options(preview)
        self._converter: Optional[FrameConverter] = None
        self._sar: Optional[Fraction] = None  # the source's pixel shape, from its stream

    def _error(self, message: str) -> SourceDecodeError:
        return SourceDecodeError(message, clip_index=self.clip.index, source_id=self.clip.source_id)

    def _convert(self, frame: av.VideoFrame) -> av.VideoFrame:
        try:
            if self._converter is None or not self._converter.matches(frame):
                self._converter = FrameConverter(frame, self.out, self.clip.framing, self._sar)
            return self._converter.convert(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            raise self._error(f"cannot scale its pictures: {exc}") from exc

    def frames(self, first: int = 0, end: Optional[int] = None) -> Iterator[av.VideoFrame]:
        """The clip's output frames [first, end) (end None: to the clip's end).

        Frame k is the same picture whatever `first` is: a later start seeks into the
        source instead of decoding from the clip's start.
        """
        end = self.clip.frame_count if end is None else min(end, self.clip.frame_count)
        if first >= end:
            return
        container, stream = self._open()
        with container:
            if self.clip.kind == MediaKind.IMAGE:
                yield from self._still(container, stream, end - first)
            else:
                yield from self._moving(container, stream, first, end)

    def _open(self):
        """The source, opened for decoding its first video stream alone."""
        try:
            container = av.open(self.path)
        except av.error.FFmpegError as exc:
            raise self._error(f"cannot open the source: {exc}") from exc
        if not container.streams.video:
            container.close()
            raise self._error("the source has no video stream")
        stream = container.streams.video[0]
        _ignore_others(container, stream)
        if DECODE_THREADS == 1:
            stream.codec_context.thread_count = 1
        else:
            stream.thread_type = "AUTO"
        stream.codec_context.options = self.decoder
        self._sar = stream.codec_context.sample_aspect_ratio
        return container, stream

    def _decoded(self, container, stream) -> Iterator[av.VideoFrame]:
        try:
            yield from container.decode(stream)
        except av.error.FFmpegError as exc:
            raise self._error(f"the video fails to decode: {exc}") from exc

    def _still(self, container, stream, count: int) -> Iterator[av.VideoFrame]:
        first = next(self._decoded(container, stream), None)
        if first is None:
            raise self._error("the image has no picture")
        picture = self._convert(first)
        for _ in range(count):
            yield picture

    def _seek(self, container, stream, time: Fraction, origin: Fraction) -> None:
        try:
            container.seek(int((time + origin) / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError as exc:
            raise self._error(f"cannot seek to {float(time):.3f} s: {exc}") from exc

    def _decoded_from(self, container, stream, time: Fraction, origin: Fraction
                      ) -> Iterator[av.VideoFrame]:
        """Decoded frames, the first at or before source time `time` if the source has one.

        Seeks find keyframes by index or by decode time, which B-frames put before the
        picture's; where the first picture after a seek is still later than `time` (or none
        comes), seek again further back, and in the end decode from the very start.
        """
        margin = Fraction(0)
        while time - margin > 0:
            self._seek(container, stream, time - margin, origin)
            frames = self._decoded(container, stream)
            head = next(frames, None)
            if head is not None and self._time(head, stream, origin, None) <= time:
                yield head
                yield from frames
                return
            frames.close()
            margin = max(2 * margin, Fraction(1))
        fresh, fresh_stream = self._open()  # a seek to the start may miss it as well
        with fresh:
            yield from self._decoded(fresh, fresh_stream)

    def _moving(self, container, stream, first: int, end: int) -> Iterator[av.VideoFrame]:
        clip = self.clip
        origin = Fraction(container.start_time or 0, 1_000_000)
        step, k = 1 / self.fps, first
        target = clip.source_start + first * step
        if target > 0:
            decoded = self._decoded_from(container, stream, target, origin)
        else:
            decoded = self._decoded(container, stream)
        held: Optional[av.VideoFrame] = None  # the last frame at or before `target`
        shown: Optional[av.VideoFrame] = None  # `held`, converted (reused while it repeats)
        time: Optional[Fraction] = None
        for frame in decoded:
            time = self._time(frame, stream, origin, time)
            while k < end and time > target:
                if held is None:  # nothing at or before the start: show the first frame
                    held, shown = frame, None
                if shown is None:
                    shown = self._convert(held)
                yield shown
                k, target = k + 1, clip.source_start + (k + 1) * step
            if k >= end:
                return
            held, shown = frame, None
        if held is None:
            raise self._error("no picture decoded at the clip's start")
        self._check_complete(stream, time)
        if shown is None:
            shown = self._convert(held)
        for _ in range(end - k):  # the source ended early: hold its last frame
            yield shown

    def _check_complete(self, stream, time: Optional[Fraction]) -> None:
        """Pictures that stop well before both the clip's and the stream's declared end."""
        declared = stream.duration * stream.time_base if stream.duration else None
        end = min(self.clip.source_end, declared) if declared else self.clip.source_end
        if time is not None and time + TRUNCATED_AFTER < end:
            raise self._error(f"the source's pictures stop at {float(time):.3f} s, before "
                              f"{float(end):.3f} s (a damaged or cut file?)")

    def _time(self, frame, stream, origin: Fraction, previous: Optional[Fraction]) -> Fraction:
        if frame.pts is not None:
            return Fraction(frame.pts) * stream.time_base - origin
        rate = stream.average_rate or self.fps
        return (previous + 1 / Fraction(rate)) if previous is not None else Fraction(0)


def _return_free_memory() -> None:
    """Give the heap a closed decoder freed back to the system (glibc keeps it otherwise,
    and long renders of many clips would creep up in RSS)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def timeline_frames(timeline: Timeline, sources: Mapping[str, str], start: int = 0,
                    end: Optional[int] = None, preview: bool = False
                    ) -> Iterator[av.VideoFrame]:
    """Output frames [start, end) (end None: to the last), clip after clip, one source
    open at a time; `sources` needs only the clips that overlap the range; `preview`
    decodes them as a preview's pieces do (decoder_options)."""
    end = timeline.frame_count if end is None else end
    out = (timeline.width, timeline.height)
    for clip in timeline.clips:
        first, last = start - clip.frame_start, end - clip.frame_start
        if last <= 0 or first >= clip.frame_count:
            continue
        pictures = ClipPictures(clip, sources[clip.source_id], out, timeline.fps, preview)
        yield from pictures.frames(max(first, 0), min(last, clip.frame_count))
        _return_free_memory()
