"""Copy, don't encode: the frames of a piece that a source already holds as the piece would.

A source that Canopy encoded with the piece's own settings (a finished render used in the
next edit) holds, GOP for GOP, what the piece's encoder would make of it. Where a clip part
shows such a source frame for frame, the source's whole GOPs inside the part are copied as
packets, and only the frames before the first and after the last are encoded, each run by
a fresh encoder with the piece's settings (so it opens on an IDR). A source qualifies when:

- it is H.264 whose SPS and PPS are byte-identical to what the piece's encoder writes (its
  parameter sets compared, never a flag trusted): the same codec settings, size and rate;
- the renderer would show its pictures unchanged (FrameConverter.passthrough: the output's
  size, yuv420p, square pixels, no rotation, a framing that crops nothing);
- its frames are exactly 1/fps apart, in step with the part's times, so output frame j of
  the part shows source frame floor(from * fps) + j;
- a copied GOP runs from an IDR to the next IDR (or the source's end), and its packets in
  decode order are exactly its frames (closed GOPs).

Pieces of such a source are cut at its keyframes (piece_plan.py), so most pieces are copied
whole, and a clip encodes only the frames before its first IDR and after its last.

render_piece checks the written piece as the join would (check_piece: SPS/PPS in its header
and in-band byte-identical to the encoder's, an IDR first, as many packets as frames), then
check_copied: each run, copied or encoded, starts with an IDR and its packets in decode order
show exactly its frames, each once; the encoded runs decode, packet for packet, to pictures
of the output's size, and so does the IDR that opens each copied run (the splice). On any
difference it encodes the piece whole.

The copied frames are not decoded again, and need not be. A copied run is the source's own
packets, byte for byte, from an IDR to the next IDR (or the source's end), closed (checked:
its packets in decode order are exactly its frames), under SPS/PPS byte-identical to the
source's (both are the encoder's, checked). H.264 decoding is deterministic, and what an IDR
starts depends only on the parameter sets and the units from it on (an IDR marks every
reference picture unused and restarts frame numbers and picture order counts: ITU-T H.264
8.2.1, 8.2.5.1). So the run decodes in the piece to exactly the pictures it decodes to in the
source: those the renderer would show (the source qualifies above). Decoding it would repeat
the source's own decode. That the bytes are the source's content is the fetch's to check
(the farm checks each source's sha256, which the piece's key holds). A test decodes every
frame of copied outputs against the source's (tests/render/test_piece_copy.py).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Optional

import av

from shared.edit_sources import MediaKind

from .bitstream import H264Stream, annexb_parameter_sets, annexb_sample
from .encode import OutputWriter, VideoSettings, open_video_encoder
from .engine import VIDEO_AHEAD
from .prefetch import Prefetch
from .piece_plan import ClipPart, clip_parts
from .timeline import PieceSpan, Timeline
from .video import FrameConverter, timeline_frames


class NoCopy(Exception):
    """This part's frames cannot be copied from its source (the reason is the message)."""


@dataclass(frozen=True)
class SourcePacket:
    """A demuxed packet of a source, and where its bytes lie in the file: an mp4/mov
    sample is stored as it is demuxed, so it is read from there as it is copied (a run of
    any length is never held in memory, nor the source demuxed twice)."""

    index: int  # the frame it holds, counted in the source
    pts: Fraction  # seconds from the source's start
    dts: Fraction
    key: bool
    pos: int  # its first byte in the file
    size: int


@dataclass
class CopiedRun:
    """Piece frames [start, end) copied from the packets of the source at `path`, in
    decode order; `opening`: the bytes of its first packet (its IDR) as demuxed."""

    start: int
    end: int
    packets: list[SourcePacket]
    length_size: int  # bytes of each NAL unit's length in the source's samples
    path: str
    opening: bytes

    @property
    def frames(self) -> int:
        return self.end - self.start


@functools.cache
def encoder_headers(settings: VideoSettings) -> dict[str, tuple]:
    """The SPS and PPS the piece's encoder writes, as bitstream.H264Stream names them."""
    sps, pps = annexb_parameter_sets(bytes(open_video_encoder(settings).extradata or b""))
    return {"SPS": sps, "PPS": pps}


def may_copy(timeline: Timeline, sources: Mapping[str, str], settings: VideoSettings) -> bool:
    """Whether a video clip shows a source with the stream headers the piece's encoder
    writes: the only sources copied_runs may copy from (each file's header read, no more)."""
    if settings.codec != "libx264":
        return False
    for source_id in {clip.source_id for clip in timeline.clips if clip.kind == MediaKind.VIDEO}:
        try:
            with av.open(sources[source_id]) as container:
                _matching_stream(container, settings)
        except (NoCopy, OSError, av.error.FFmpegError):
            continue
        return True
    return False


def copied_runs(timeline: Timeline, span: PieceSpan, sources: Mapping[str, str],
                settings: VideoSettings) -> list[CopiedRun]:
    """The runs of the piece's frames its sources' packets hold as they are (maybe none)."""
    if settings.codec != "libx264":
        return []
    runs = []
    for part in clip_parts(timeline, span):
        if part.clip.kind != MediaKind.VIDEO:
            continue
        try:
            run = _copied_run(part, sources[part.clip.source_id], timeline.fps, settings)
        except NoCopy:
            continue
        if run is not None:
            offset = part.start - span.start
            runs.append(replace(run, start=run.start + offset, end=run.end + offset))
    return runs


def _copied_run(part: ClipPart, path: str, fps: Fraction, settings: VideoSettings
                ) -> Optional[CopiedRun]:
    """The whole GOPs of `path` that show part frames, as a run in part frames."""
    try:
        container = av.open(path)
    except (OSError, av.error.FFmpegError) as exc:
        raise NoCopy(f"cannot open: {exc}") from exc
    with container:
        stream = _matching_stream(container, settings)
        origin = Fraction(container.start_time or 0, 1_000_000)
        first = math.floor((part.clip.source_start + Fraction(part.first) / fps) * fps)
        end = first + part.frames  # source frames [first, end) are shown, one per frame
        coded = H264Stream(bytes(stream.codec_context.extradata))
        packets, idrs = _packets(container, stream, coded, origin, fps, first, end)
        ends = [i for i in idrs if i <= end] + ([end] if _source_ends_at(packets, end) else [])
        starts = [i for i in idrs if i >= first]
        if not starts or not ends or ends[-1] <= starts[0]:
            return None
        lo, hi = starts[0], ends[-1]
        copied = [p for p in packets if lo <= p.index < hi]
        order = [p.index for p in copied]
        at = next(k for k, p in enumerate(packets) if p.index == lo)
        if (sorted(order) != list(range(lo, hi))
                or [p.index for p in packets[at:at + len(copied)]] != order):
            raise NoCopy("its GOPs are not closed, or frames are missing")
        _check_picture(stream, idrs[lo], part, settings)
        return CopiedRun(lo - first, hi - first, copied, coded.length_size, path, idrs[lo])


def _matching_stream(container, settings: VideoSettings):
    if not container.streams.video:
        raise NoCopy("no video")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx.name != "h264" or (ctx.width, ctx.height) != tuple(settings.size):
        raise NoCopy("another codec or size")
    if not container.format.name.startswith("mov,mp4"):
        raise NoCopy("not an mp4/mov file (whose samples are stored as they are demuxed)")
    try:
        headers = H264Stream(bytes(ctx.extradata or b"")).headers
    except (ValueError, IndexError) as exc:
        raise NoCopy(f"unreadable stream headers: {exc}") from exc
    if headers != encoder_headers(settings):
        raise NoCopy("other SPS/PPS than the piece's encoder writes")
    return stream


def _frame_index(time: Fraction, fps: Fraction) -> int:
    index = time * fps
    if index.denominator != 1:
        raise NoCopy("its frames are not on the output's frame grid")
    return int(index)


def _demuxed(container, stream, origin: Fraction, fps: Fraction, first: int
             ) -> Iterator[tuple[SourcePacket, av.Packet]]:
    """Each packet in decode order from the keyframe at or before source frame `first`, and
    where it sits."""
    container.seek(int((Fraction(first) / fps + origin) / stream.time_base), stream=stream,
                   backward=True)
    for packet in container.demux(stream):
        if not packet.size:
            continue
        if packet.pts is None or packet.dts is None or packet.pos is None or packet.pos < 0:
            raise NoCopy("a packet without times or place")
        pts = packet.pts * packet.time_base - origin
        yield SourcePacket(_frame_index(pts, fps), pts, packet.dts * packet.time_base - origin,
                           packet.is_keyframe, packet.pos, packet.size), packet


def _packets(container, stream, coded: H264Stream, origin: Fraction, fps: Fraction,
             first: int, end: int) -> tuple[list[SourcePacket], dict[int, bytes]]:
    """The packets in decode order from the keyframe at or before `first` to the first IDR
    at or after `end` (held, not copied), or the source's end; and the IDRs among them, by
    frame (the bytes of the first at or after `first`: the run's, whose picture is checked;
    b"" for the others)."""
    found, idrs = [], {}
    for where, packet in _demuxed(container, stream, origin, fps, first):
        found.append(where)
        if where.key:
            data = bytes(packet)
            if coded.packet(data).starts_alone:
                opening = where.index >= first and not any(i >= first for i in idrs)
                idrs[where.index] = data if opening else b""
        if where.index >= end and where.key:
            break
    return found, idrs


def _source_ends_at(packets: Sequence[SourcePacket], end: int) -> bool:
    """The source's last frame is frame end - 1 (its end closes the last GOP)."""
    return bool(packets) and max(p.index for p in packets) == end - 1


def _check_picture(stream, idr: bytes, part: ClipPart, settings: VideoSettings) -> None:
    """The renderer would show this source's pictures as they are: decode the run's IDR
    (with the stream's own decoder, which knows its rotation and pixel shape)."""
    decoder = stream.codec_context
    try:
        frames = decoder.decode(av.Packet(idr)) + decoder.decode(None)
    except av.error.FFmpegError as exc:
        raise NoCopy(f"its IDR does not decode: {exc}") from exc
    if not frames:
        raise NoCopy("its first IDR does not decode alone")
    sar = stream.codec_context.sample_aspect_ratio
    converter = FrameConverter(frames[0], tuple(settings.size), part.clip.framing, sar)
    if not converter.passthrough:
        raise NoCopy("the renderer would change its pictures (size, crop, rotation)")


def write_with_copies(timeline: Timeline, sources: Mapping[str, str], span: PieceSpan,
                      writer: OutputWriter, settings: VideoSettings,
                      runs: Sequence[CopiedRun], written) -> int:
    """The piece's frames into `writer`'s video stream: `runs` copied, the frames between
    them encoded; `written(frames done)` after each. Returns the frames copied."""
    stream, done = writer.video, 0
    for start, end, run in _segments(span.frames, runs):
        if run is None:
            packets = _encoded(timeline, sources, span.start + start, span.start + end,
                               settings, written, done)
        else:
            packets = _moved(run, stream.time_base, settings.fps)
        for packet in packets:
            packet.stream = stream
            writer.container.mux(packet)
        done += end - start
        if run is not None:
            written(done)
    writer.frames = done
    return sum(run.frames for run in runs)


def _segments(frames: int, runs: Sequence[CopiedRun]
              ) -> Iterator[tuple[int, int, Optional[CopiedRun]]]:
    at = 0
    for run in runs:
        if run.start > at:
            yield at, run.start, None
        yield run.start, run.end, run
        at = run.end
    if at < frames:
        yield at, frames, None


def _encoded(timeline, sources, start: int, end: int, settings: VideoSettings, written,
             before: int) -> Iterator[av.Packet]:
    """Output frames [start, end) by a fresh encoder, timed from the piece's start."""
    encoder = open_video_encoder(settings)
    offset = before  # this run's first frame, counted in the piece
    with Prefetch(timeline_frames(timeline, sources, start, end, settings.preview),
                  VIDEO_AHEAD, "video") as frames:
        for k, frame in enumerate(frames):
            frame.pts, frame.time_base = k, encoder.time_base
            frame.pict_type = av.video.frame.PictureType.NONE
            yield from _shifted(encoder.encode(frame), offset, encoder.time_base)
            written(before + k + 1)
    yield from _shifted(encoder.encode(None), offset, encoder.time_base)


def _shifted(packets, frames: int, time_base: Fraction) -> Iterator[av.Packet]:
    for packet in packets:
        packet.pts += frames
        packet.dts += frames
        packet.time_base = time_base
        yield packet


def _moved(run: CopiedRun, time_base: Fraction, fps: Fraction) -> Iterator[av.Packet]:
    """The run's source packets, read from where they lie in the source (the first must be
    the bytes demuxed), retimed so that its first frame shows at run.start, their units
    after start codes: the mp4 muxer takes H.264 so from an encoder whose extradata is
    Annex B, and would misread length-prefixed samples."""
    # Source frame i (i / fps from the source's start) shows at (run.start + i - first) / fps.
    shift = Fraction(run.start - run.packets[0].index) / fps
    try:
        source_file = open(run.path, "rb")
    except OSError as exc:
        raise NoCopy(f"cannot open: {exc}") from exc
    with source_file:
        for source in run.packets:
            pts, dts = (source.pts + shift) / time_base, (source.dts + shift) / time_base
            if pts.denominator != 1 or dts.denominator != 1:
                raise NoCopy("its times do not fall on the piece's time base")
            source_file.seek(source.pos)
            data = source_file.read(source.size)
            if len(data) != source.size or (source is run.packets[0] and data != run.opening):
                raise NoCopy(f"frame {source.index} is not where the source's index puts it")
            try:
                packet = av.Packet(annexb_sample(data, run.length_size))
            except ValueError as exc:
                raise NoCopy(str(exc)) from exc
            packet.pts, packet.dts, packet.time_base = int(pts), int(dts), time_base
            packet.is_keyframe = source.key
            yield packet


def check_copied(stream, packets: Iterator[av.Packet], span: PieceSpan,
                 settings: VideoSettings, runs: Sequence[CopiedRun]) -> None:
    """The written piece holds its runs as planned (the module's checks, in the pass of the
    join's: `packets` of its `stream` from join.check_piece, timed from span.start): each
    run of packets, in decode order, starts with an IDR and holds exactly its frames'
    times; the encoded runs, and the IDR of each copied run after another run (a splice),
    decode to one picture of the output's size per packet. NoCopy when not."""
    coded = H264Stream(bytes(stream.codec_context.extradata or b""))
    decoder = stream.codec_context
    decoder.thread_count = 1
    fed, decoded = 0, 0
    for start, end, run in _segments(span.frames, runs):
        times = []
        for k in range(end - start):
            packet = next(packets, None)
            if packet is None:
                raise NoCopy(f"frames {start + k}-{end} are missing")
            if k == 0 and not coded.packet(bytes(packet)).starts_alone:
                raise NoCopy(f"frame {start} does not start with an IDR")
            times.append(packet.pts * packet.time_base * settings.fps - span.start)
            if run is None or (k == 0 and start > 0):  # new bytes, or a splice onto copied
                # ones (a run that opens the piece has its IDR decoded by _check_picture)
                fed += 1
                decoded += _pictures(decoder, packet, settings.size)
        if sorted(times) != list(range(start, end)):
            raise NoCopy(f"frames {start}-{end} are not each shown once, in step")
    decoded += _pictures(decoder, None, settings.size)
    if decoded != fed:
        raise NoCopy(f"{fed} packets decoded to {decoded} pictures")


def _pictures(decoder, packet, size: tuple[int, int]) -> int:
    count = 0
    for frame in decoder.decode(packet):
        if (frame.width, frame.height) != tuple(size):
            raise NoCopy(f"a frame is {frame.width}x{frame.height}")
        count += 1
    return count
