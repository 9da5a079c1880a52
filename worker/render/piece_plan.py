"""Where a render is cut into pieces: whole-frame ranges of the output, and what each needs.

Pure: the same timeline, the same pieces. See piece_render.py for the whole sequence.
"""
from __future__ import annotations

from shared.edit import MIN_CHUNK_SECONDS

from .encode import gop_frames
from .timeline import PieceSpan, Timeline


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
