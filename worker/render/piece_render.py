"""One render in pieces: plan the frame ranges (piece_plan.py), render each alone and the
sound once (here), then join them (join.py); in_process.py does it all in one process.

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
Renders that ask for the GPU encoder render in one piece (see piece_plan.plan_pieces).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import av

from shared.edit import VideoEdit

from .encode import VideoSettings, choose_video_codec
from .engine import (VIDEO_AHEAD, FrameProgress, ProgressCallback, audio_packets, open_writer,
                     partial_output, plan, video_settings)
from .errors import RenderCanceled, RenderError
from .join import check_piece
from .piece_copy import NoCopy, check_copied, copied_runs, encoder_headers, write_with_copies
from .prefetch import Prefetch
from .timeline import PieceSpan, Timeline
from .video import timeline_frames

PIECE_FORMAT = "mp4"
# The video encoder's threads in every piece, on any machine: x264's output depends on its
# thread count. Two, as a piece's worker gets about two cores (deploy/README.md); on one
# core they cost no more CPU than one thread (measured: within the noise).
PIECE_THREADS = 2
CANCEL_EVERY_BLOCKS = 64  # audio encoder frames (about 1.4 s of sound) between cancel checks


@dataclass
class PieceResult:
    output: str
    span: PieceSpan
    frames: int
    copied: int = 0  # frames copied from a source's packets, not encoded (piece_copy.py)
    note: Optional[str] = None  # why frames that looked copyable were encoded after all


@dataclass
class AudioResult:
    output: str
    samples: int  # per channel, at 48 kHz: the timeline's sample_count


def piece_container(fmt: str, sound: bool) -> str:
    """A piece's container: the output's format for the sound piece, PIECE_FORMAT for video."""
    return fmt if sound else PIECE_FORMAT


def piece_codec(fmt: str) -> str:
    """The encoder of every piece of an output format: the CPU's (libx264, libvpx-vp9)."""
    return choose_video_codec(fmt, "cpu")[0]


def piece_settings(edit: VideoEdit, timeline: Timeline) -> VideoSettings:
    """The one set of encoder settings of every piece of this render, whichever worker
    encodes it: its thread count pinned, so that any worker makes the same bytes."""
    return video_settings(edit, timeline, piece_codec(edit.video_output_format), PIECE_THREADS)


def render_piece(edit: VideoEdit, sources: Mapping[str, str], span: PieceSpan, output: str, *,
                 timeline: Optional[Timeline] = None,
                 on_progress: Optional[ProgressCallback] = None,
                 should_cancel: Optional[Callable[[], bool]] = None,
                 copy: bool = True) -> PieceResult:
    """Render output frames [span.start, span.end), pictures only, into the mp4 `output`
    (H.264, or VP9 for a webm output).

    Decodes only those frames, seeking into the sources. `timeline` is the render's
    (timeline_from_dict); without it the edit is planned here, which needs every source.
    on_progress gets (frames of this piece done, frames of this piece); raises like render().
    `copy`: take whole GOPs from a source that already holds them as this piece would
    (piece_copy.py), checked, else encoded; the result says how many frames were copied.
    """
    if timeline is None:
        timeline, _ = plan(edit, sources)
    if not 0 <= span.start < span.end <= timeline.frame_count:
        raise ValueError(f"piece {span.index} [{span.start}, {span.end}) is not inside the "
                         f"timeline's {timeline.frame_count} frames")
    settings = piece_settings(edit, timeline)
    note = None
    if copy:
        copied, note = _render_copying(timeline, sources, span, output, settings,
                                       on_progress, should_cancel)
        if copied is not None:
            return copied
    progress = FrameProgress(span.frames, on_progress, should_cancel)
    with partial_output(output) as path, \
            open_writer(path, PIECE_FORMAT, settings, audio=False, faststart=False) as writer, \
            Prefetch(timeline_frames(timeline, sources, span.start, span.end,
                                     settings.preview), VIDEO_AHEAD,
                     "video") as frames:
        for frame in frames:
            writer.add_video(frame)
            progress.written(writer.frames)
        if writer.frames != span.frames:
            raise RuntimeError(f"piece {span.index} wrote {writer.frames} frames, "
                               f"its span has {span.frames}")
    return PieceResult(output, span, writer.frames, note=note)


def _render_copying(timeline: Timeline, sources: Mapping[str, str], span: PieceSpan,
                    output: str, settings: VideoSettings, on_progress, should_cancel
                    ) -> tuple[Optional[PieceResult], Optional[str]]:
    """The piece with its sources' copyable GOPs copied, checked as the join checks it and
    as piece_copy.check_copied does; (None, why) when nothing can be copied or the result
    differs."""
    runs = copied_runs(timeline, span, sources, settings)
    if not runs:
        return None, None
    progress = FrameProgress(span.frames, on_progress, should_cancel)
    try:
        with partial_output(output) as path, \
                open_writer(path, PIECE_FORMAT, settings, audio=False, faststart=False) as writer:
            copied = write_with_copies(timeline, sources, span, writer, settings, runs,
                                       progress.written)
        check_piece(output, span, timeline.fps, encoder_headers(settings),
                    also=lambda stream, packets: check_copied(stream, packets, span, settings,
                                                              runs))
    except (NoCopy, RenderError, av.error.FFmpegError) as exc:
        Path(output).unlink(missing_ok=True)
        return None, f"piece {span.index}: copying failed ({exc}); encoded whole"
    return PieceResult(output, span, span.frames, copied=copied), None


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
