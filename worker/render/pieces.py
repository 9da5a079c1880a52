"""One render in pieces: plan the frame ranges, render each alone, the sound once, then join.

    timeline, warnings = plan(edit, sources)  # probes every file; plan_from_infos: no files
    spans, more = plan_pieces(timeline, chunk_seconds, edit.video_output_format, edit.encoder)
    stored = timeline_to_dict(timeline)  # JSON: what the piece workers get
    # On any worker, in any order, with only the files of sources_for(timeline, span):
    render_piece(edit, {id: path}, spans[i], f"piece{i}.mp4",
                 timeline=timeline_from_dict(stored), on_progress=..., should_cancel=...)
    # Once, with the files of sound_sources(timeline):
    render_audio(edit, {id: path}, "sound.m4a", timeline=timeline_from_dict(stored))
    # When every piece is done (see join.py):
    join(["piece0.mp4", ...], spans, "sound.m4a", "out.mp4", edit.video_output_format,
         timeline.fps)

Pieces are whole-frame ranges [start, end) of the output that start on the encoder's
scheduled keyframes (multiples of the GOP). Each is video only, encoded on the CPU with the
one set of settings `piece_settings` gives: libx264 for mp4/mov (closed GOP, IDR first,
`stitchable`, the same time base and colour settings, so every piece carries
byte-identical SPS/PPS), libvpx-vp9 for webm (a key frame first, which resets every VP9
reference and context). The join copies packets without re-encoding. Pieces are mp4 files
whatever the output: mp4 keeps each packet's pts and dts exactly (B-frames reorder), holds
H.264's SPS/PPS in one place (avcC), and carries VP9 as well; piece_codec(fmt) names the
encoder (RenderResult.video_codec).

The sound is mixed and encoded once for the whole timeline, so no encoder priming or
fade lands at a seam; its sample count is the timeline's, exactly as render() writes.
Renders that ask for the GPU encoder render in one piece (see plan_pieces).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from shared.edit import MAX_OUTPUT_SECONDS, MIN_CHUNK_SECONDS, VideoEdit

from .encode import VideoSettings, choose_video_codec, gop_frames
from .engine import (VIDEO_AHEAD, FrameProgress, ProgressCallback, RenderResult, audio_packets,
                     open_writer, partial_output, plan, render)
from .errors import RenderCanceled
from .join import join
from .prefetch import Prefetch
from .timeline import Timeline
from .video import timeline_frames

PIECE_FORMAT = "mp4"
CANCEL_EVERY_BLOCKS = 64  # audio encoder frames (about 1.4 s of sound) between cancel checks


@dataclass(frozen=True)
class PieceSpan:
    """Output frames [start, end) of one piece; `index` is its place in the join."""

    index: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass
class PieceResult:
    output: str
    span: PieceSpan
    frames: int


@dataclass
class AudioResult:
    output: str
    samples: int  # per channel, at 48 kHz: the timeline's sample_count


def plan_pieces(timeline: Timeline, chunk_seconds: float, fmt: str = "mp4",
                encoder: str = "auto") -> tuple[list[PieceSpan], list[str]]:
    """The pieces of a render, and warnings. Pure: the same timeline, the same pieces.

    One piece when chunk_seconds is 0 or the output is not longer than twice the piece
    length. Else pieces of about chunk_seconds, each a whole number of GOPs, balanced:
    n = round(frames / piece length) pieces, the GOPs shared out as evenly as they go.
    `encoder` "gpu" stays one piece (with a warning): pieces join only when every one was
    encoded with the same settings by the same encoder, and not every worker has NVENC.
    """
    if chunk_seconds != 0 and chunk_seconds < MIN_CHUNK_SECONDS:
        raise ValueError(f"chunk_seconds must be 0 (one piece) or at least {MIN_CHUNK_SECONDS}")
    total = timeline.frame_count
    gop = gop_frames(timeline.fps)
    whole = [PieceSpan(0, 0, total)]
    if chunk_seconds == 0:
        return whole, []
    gops_per_piece = max(1, round(chunk_seconds * timeline.fps / gop))
    piece = gops_per_piece * gop
    if total <= 2 * piece:
        return whole, []
    if encoder == "gpu" and fmt != "webm":  # webm is VP9 on the CPU anyway
        return whole, ["render_options.encoder gpu renders in one piece: pieces are all "
                       "encoded on the CPU, so that they join"]
    gops = -(-total // gop)  # the last GOP may be short
    count = max(2, round(total / piece))
    bounds = [gop * (gops * i // count) for i in range(count)] + [total]
    return [PieceSpan(i, a, b) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))], []


def sources_for(timeline: Timeline, span: PieceSpan) -> set[str]:
    """The source ids whose pictures the piece shows (all a piece's worker must fetch)."""
    return {clip.source_id for clip in timeline.clips
            if clip.frame_start < span.end and span.start < clip.frame_start + clip.frame_count}


def sound_sources(timeline: Timeline) -> set[str]:
    """The source ids the sound is mixed from (render_audio's; images have none)."""
    return ({clip.source_id for clip in timeline.clips if clip.kind == "video"}
            | {track.source_id for track in timeline.overlays})


def piece_codec(fmt: str) -> str:
    """The encoder of every piece of an output format: the CPU's (libx264, libvpx-vp9)."""
    return choose_video_codec(fmt, "cpu")[0]


def piece_settings(edit: VideoEdit, timeline: Timeline) -> VideoSettings:
    """The one set of encoder settings of every piece of this render."""
    options = edit.render_options
    return VideoSettings(piece_codec(edit.video_output_format),
                         (timeline.width, timeline.height), timeline.fps,
                         options and options.preset, options and options.crf)


def render_piece(edit: VideoEdit, sources: Mapping[str, str], span: PieceSpan, output: str, *,
                 timeline: Optional[Timeline] = None,
                 on_progress: Optional[ProgressCallback] = None,
                 should_cancel: Optional[Callable[[], bool]] = None) -> PieceResult:
    """Render output frames [span.start, span.end), pictures only, into the mp4 `output`
    (H.264, or VP9 for a webm output).

    Decodes only those frames, seeking into the sources. `timeline` is the render's
    (timeline_from_dict); without it the edit is planned here, which needs every source.
    on_progress gets (frames of this piece done, frames of this piece); raises like render().
    """
    if timeline is None:
        timeline, _ = plan(edit, sources)
    if not 0 <= span.start < span.end <= timeline.frame_count:
        raise ValueError(f"piece {span.index} [{span.start}, {span.end}) is not inside the "
                         f"timeline's {timeline.frame_count} frames")
    settings = piece_settings(edit, timeline)
    progress = FrameProgress(span.frames, on_progress, should_cancel)
    with partial_output(output) as path, \
            open_writer(path, PIECE_FORMAT, settings, audio=False, faststart=False) as writer, \
            Prefetch(timeline_frames(timeline, sources, span.start, span.end), VIDEO_AHEAD,
                     "video") as frames:
        for frame in frames:
            writer.add_video(frame)
            progress.written(writer.frames)
        if writer.frames != span.frames:
            raise RuntimeError(f"piece {span.index} wrote {writer.frames} frames, "
                               f"its span has {span.frames}")
    return PieceResult(output, span, writer.frames)


def render_audio(edit: VideoEdit, sources: Mapping[str, str], output: str,
                 fmt: Optional[str] = None, *, timeline: Optional[Timeline] = None,
                 should_cancel: Optional[Callable[[], bool]] = None) -> AudioResult:
    """The whole timeline's sound, mixed and encoded once (AAC for mp4/mov, Opus for webm)
    into an audio-only file of format `fmt` (default: the edit's output format)."""
    fmt = fmt or edit.video_output_format
    if timeline is None:
        timeline, _ = plan(edit, sources)
    with partial_output(output) as path, \
            open_writer(path, fmt, None, faststart=False) as writer:
        for done, (_, packets) in enumerate(audio_packets(timeline, sources, writer)):
            writer.mux(packets)
            if should_cancel is not None and done % CANCEL_EVERY_BLOCKS == 0 and should_cancel():
                raise RenderCanceled("the render was canceled")
        if writer.samples != timeline.sample_count:
            raise RuntimeError(f"wrote {writer.samples} samples, the timeline has "
                               f"{timeline.sample_count}")
    return AudioResult(output, writer.samples)


def render_in_pieces(edit: VideoEdit, sources: Mapping[str, str], output: str,
                     chunk_seconds: float, *, on_progress: Optional[ProgressCallback] = None,
                     should_cancel: Optional[Callable[[], bool]] = None,
                     encoder: Optional[str] = None,
                     max_output_seconds: float = MAX_OUTPUT_SECONDS) -> RenderResult:
    """render(), but through pieces rendered one after another here and joined: the farm's
    path in one process. A plan of one piece is an ordinary render()."""
    timeline, warnings = plan(edit, sources, max_output_seconds)
    spans, notes = plan_pieces(timeline, chunk_seconds, edit.video_output_format, edit.encoder)
    if len(spans) == 1:
        result = render(edit, sources, output, on_progress=on_progress,
                        should_cancel=should_cancel, encoder=encoder,
                        max_output_seconds=max_output_seconds)
        result.warnings += notes
        return result
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.stem}.", dir=target.parent) as work:
        paths = [os.path.join(work, f"piece{span.index}.{PIECE_FORMAT}") for span in spans]
        for span, path in zip(spans, paths):
            def progress(done: int, _: int, before: int = span.start) -> None:
                if on_progress is not None:
                    on_progress(before + done, timeline.frame_count)

            render_piece(edit, sources, span, path, timeline=timeline, on_progress=progress,
                         should_cancel=should_cancel)
        fmt = edit.video_output_format
        sound = render_audio(edit, sources, os.path.join(work, f"sound.{fmt}"),
                             timeline=timeline, should_cancel=should_cancel)
        joined = join(paths, spans, sound.output, output, fmt, timeline.fps)
    return RenderResult(str(target), joined.frames, sound.samples,
                        sound.samples / timeline.sample_rate, piece_codec(fmt), warnings + notes,
                        pieces=len(spans))
