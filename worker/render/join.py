"""join(): a render's video pieces and its sound into the output file, copied, not re-encoded.

Before a packet is copied, every piece is checked: one video stream of the first piece's
codec, size and time base, byte-identical stream headers (H.264: the SPS/PPS of its avcC
and any that come in-band; VP9: each key frame's header, see bitstream.py), a first frame
that decodes alone (IDR, key frame), and as many frames as its span. A piece that fails
makes the join raise a RenderError naming the piece and the reason, and no output is left
behind: a file that would play wrong is never written.

Piece i's packets keep their own order and get pts/dts + span.start frames; the sound's
packets are copied as they are. Both are interleaved by decode time, so the muxer holds
only a few packets at once; mp4/mov get `+faststart`.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import av

from .bitstream import CodedStream, coded_stream
from .engine import partial_output
from .errors import RenderError
from .timeline import PieceSpan


class PieceMismatchError(RenderError):
    """A piece cannot be joined with the others: other encoder settings, or frames missing.
    `piece` is its index in the plan (a cached piece refused so is rendered anew)."""

    def __init__(self, message: str, piece: Optional[int] = None):
        self.piece = piece
        super().__init__(message)


@dataclass
class JoinResult:
    output: str
    frames: int


class _Piece:
    """One piece file, open: its stream, checked against the first piece's."""

    def __init__(self, path: str, span: PieceSpan):
        self.path, self.span = path, span
        try:
            self.container = av.open(path)
        except (OSError, av.error.FFmpegError) as exc:
            raise PieceMismatchError(f"piece {span.index} cannot be read: {exc}",
                                     span.index) from exc
        videos = self.container.streams.video
        if len(videos) != 1 or len(self.container.streams) != 1:
            self._fail("must hold exactly one stream, of video")
        self.stream = videos[0]
        self.codec = self.stream.codec_context.name
        try:
            first = next((bytes(p) for p in self.container.demux(self.stream) if p.size), b"")
            self.container.seek(0, stream=self.stream)  # the join copies from the first packet
            self.coded: CodedStream = coded_stream(
                self.codec, bytes(self.stream.codec_context.extradata or b""), first)
            self.starts_alone = bool(first) and self.coded.packet(first).starts_alone
        except (ValueError, IndexError, av.error.FFmpegError) as exc:
            self._fail(f"cannot be read as a piece: {exc}")

    def _fail(self, reason: str):
        self.container.close()
        raise PieceMismatchError(f"piece {self.span.index} ({self.path}) {reason}",
                                 self.span.index)

    def check_against(self, first: "_Piece") -> None:
        """Same codec, picture size, time base and stream headers as the first piece, a
        first frame that decodes alone; frames as planned."""
        ctx, ref = self.stream.codec_context, first.stream.codec_context
        if self.codec != first.codec:
            self._fail(f"is {self.codec}, piece {first.span.index} {first.codec}")
        if (ctx.width, ctx.height) != (ref.width, ref.height):
            self._fail(f"is {ctx.width}x{ctx.height}, piece {first.span.index} "
                       f"{ref.width}x{ref.height}")
        if self.stream.time_base != first.stream.time_base:
            self._fail(f"has time base {self.stream.time_base}, piece {first.span.index} "
                       f"{first.stream.time_base}")
        self._check_headers(self.coded.headers, first, "in its header")
        if not self.starts_alone:
            self._fail(f"does not start with {self.coded.key_frame}")
        if self.stream.frames and self.stream.frames != self.span.frames:
            self._fail(f"has {self.stream.frames} frames, its span [{self.span.start}, "
                       f"{self.span.end}) has {self.span.frames}")

    def _check_headers(self, headers: dict[str, tuple], first: "_Piece", where: str) -> None:
        for name, value in headers.items():
            if value != first.coded.headers.get(name):
                self._fail(f"has other {name} {where} than piece {first.span.index} (other "
                           "encoder settings or size): pieces must share one encoding to be "
                           "joined")

    def packets(self, first: "_Piece", fps: Fraction) -> Iterator[av.Packet]:
        """Its packets, timed on the output's timeline; checks in-band stream headers and
        the frame count as they go by."""
        offset = self.span.start / fps / self.stream.time_base
        if offset.denominator != 1:
            self._fail(f"cannot start at frame {self.span.start}: its time base "
                       f"{self.stream.time_base} does not hold whole frames at {fps} fps")
        count = 0
        for packet in self.container.demux(self.stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            self._check_headers(self.coded.packet(memoryview(packet)).headers, first, "in-band")
            packet.pts += int(offset)
            packet.dts += int(offset)
            count += 1
            yield packet
        if count != self.span.frames:
            self._fail(f"has {count} frames, its span [{self.span.start}, {self.span.end}) "
                       f"has {self.span.frames}")

    def close(self) -> None:
        self.container.close()


def _open_pieces(pieces: Sequence[str], spans: Sequence[PieceSpan]) -> list[_Piece]:
    if len(pieces) != len(spans) or not spans:
        raise ValueError(f"{len(pieces)} piece files for {len(spans)} spans")
    for previous, span in zip([None, *spans], spans):
        if span.start != (previous.end if previous else 0) or span.end <= span.start:
            raise ValueError(f"span {span} does not follow {previous}: the spans must cover "
                             "the output from frame 0, in order, without gaps")
    opened: list[_Piece] = []
    try:
        for path, span in zip(pieces, spans):
            opened.append(_Piece(path, span))
            opened[-1].check_against(opened[0])
    except BaseException:
        for piece in opened:
            piece.close()
        raise
    return opened


def check_piece(path: str, span: PieceSpan, fps: Fraction, headers: dict[str, tuple],
                also: Optional[Callable[[av.video.stream.VideoStream, Iterator[av.Packet]],
                                        None]] = None) -> None:
    """The join's checks of one piece alone: the stream `headers` it must carry (SPS/PPS,
    in its header and in-band), a first frame that decodes alone, the span's frames.
    `also(stream, packets)` checks more in the same pass: its packets as the join times
    them (from span.start), each checked first."""
    piece = _Piece(path, span)
    try:
        if piece.coded.headers != headers:
            piece._fail("has other stream headers than its encoder writes")
        piece.check_against(piece)
        packets = piece.packets(piece, fps)
        if also is not None:
            also(piece.stream, packets)
        for _ in packets:
            pass
    finally:
        piece.close()


def _decode_time(packet: av.Packet) -> Fraction:
    return (packet.dts if packet.dts is not None else packet.pts) * packet.time_base


def join(pieces: Sequence[str], spans: Sequence[PieceSpan], audio: Optional[str],
         output: str, fmt: str, fps: Fraction) -> JoinResult:
    """Join piece files (in span order) and the render's sound file into `output`.

    `spans` are the plan's, one per piece; `fps` the timeline's. `audio` None joins
    pictures only. Raises PieceMismatchError (a RenderError) when a piece does not fit.
    """
    opened = _open_pieces(pieces, spans)
    sound = None
    try:
        sound = av.open(audio) if audio is not None else None
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        with partial_output(output) as path, \
                av.open(path, "w", format=fmt, options=options) as out:
            video = out.add_stream_from_template(opened[0].stream)
            timed = [_timed(_all_pieces(opened, fps), video, 0)]
            if sound is not None:
                source = sound.streams.audio[0]
                timed.append(_timed(sound.demux(source), out.add_stream_from_template(source), 1))
            frames = 0
            for _, packet, target in heapq.merge(*timed, key=lambda item: item[0]):
                frames += target is video
                packet.stream = target
                out.mux(packet)
    finally:
        for piece in opened:
            piece.close()
        if sound is not None:
            sound.close()
    return JoinResult(output, frames)


def _all_pieces(opened: Sequence[_Piece], fps: Fraction) -> Iterator[av.Packet]:
    for piece in opened:
        yield from piece.packets(opened[0], fps)


def _timed(packets: Iterator[av.Packet], target, order: int):
    """(decode time, stream order), packet, output stream: what the merge sorts by."""
    for packet in packets:
        if packet.size:  # not the demuxer's end-of-stream marker
            yield (_decode_time(packet), order), packet, target
