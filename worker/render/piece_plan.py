"""Where a render is cut into pieces: on the edit's own clips, so that a piece's pictures
depend on what it shows, never on where it sits in the output.

Pure: the same timeline, the same pieces. See piece_render.py for the whole sequence.

- A piece never crosses a clip boundary: every clip starts a piece, so with an IDR.
- A clip of a piece's length or more is cut at a grid of its *source* time (one point every
  piece length, counted from the source's zero), so the cuts move with the source span,
  never with the clip's place; the parts between them are exactly a piece long (whole
  GOPs). A cut leaving less than half a piece at either end of the clip is left out.
- Where the source's keyframes are known (`keyframes`: its packets' keyframe flags, read
  once per source content by the probe), each grid point moves to the first frame at or
  after the source keyframe nearest to it (within half a piece, and leaving half a piece at
  each end of the clip); a grid point that is left out stays out, whatever keyframe is
  near. A cut then falls on the source's own IDRs: the GOPs of a source that Canopy encoded
  with the piece's settings are copied whole (piece_copy.py), and only
  the clip's first and last partial GOPs are encoded; any other source is decoded from a
  keyframe on. The cuts still depend only on the clip's source span and the source's
  content (its keyframes are a property of its bytes), never on the clip's place in the
  output; the pieces are then whole GOPs of the source rather than of the output.
- Shorter clips share pieces: a run of them ends after a clip whose own hash (over what it
  shows) falls below twice its share of a piece, or before the run would pass two pieces.
  So a changed clip changes its own run, and at most the next (content-defined chunking).

A clip's frame count is its output frames (timeline.py), which a change of an earlier clip
by a fraction of a frame can move by one: only the piece holding the clip's end then
changes. `clip_parts` says what each piece shows, which piece_keys.py hashes.
"""
from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

from shared.edit import MIN_CHUNK_SECONDS
from shared.edit_sources import MediaKind

from .encode import gop_frames
from .timeline import PieceSpan, Timeline, TimelineClip

# sha256 of each source's bytes, by source id (a missing one is known by its id instead).
Contents = Mapping[str, Optional[str]]
# Source times (exact seconds from the source's start) of a source's keyframes, ascending,
# by source id (worker/render/probe.py `keyframe_times`); a missing one is cut on the grid.
Keyframes = Mapping[str, Sequence[Fraction]]


@dataclass(frozen=True)
class ClipPart:
    """Clip frames [first, end) of one clip: a piece holds one or more, whole."""

    clip: TimelineClip
    first: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.first

    @property
    def start(self) -> int:
        """Its first frame on the output timeline."""
        return self.clip.frame_start + self.first

    def shows(self, fps: Fraction, content: Optional[str]) -> dict:
        """What its pictures are made of, and nothing else: the source's content (or its id
        when the content is not known), the source time of its first frame (exact), how many
        frames, and the framing. Frame j shows source time `from` + j / fps."""
        clip = self.clip
        shown = {"source": content or f"id:{clip.source_id}", "kind": clip.kind,
                 "frames": self.frames,
                 "framing": clip.framing.model_dump() if clip.framing is not None else None}
        if clip.kind == MediaKind.VIDEO:  # a still image shows the same picture at any time
            shown["from"] = str(clip.source_start + Fraction(self.first) / fps)
        return shown


def piece_frames(fps: Fraction, chunk_seconds: float) -> int:
    """A piece's length in frames: chunk_seconds rounded to whole GOPs (at least one)."""
    gop = gop_frames(fps)
    return max(1, round(chunk_seconds * fps / gop)) * gop


def plan_pieces(timeline: Timeline, chunk_seconds: float, fmt: str = "mp4",
                encoder: str = "auto", contents: Optional[Contents] = None,
                keyframes: Optional[Keyframes] = None) -> tuple[list[PieceSpan], list[str]]:
    """The pieces of a render, and warnings. Pure: the same timeline, the same pieces.

    One piece when chunk_seconds is 0 or the output is not longer than twice a piece. Else
    pieces on the clips (the module's rules); `contents` (sha256 by source id) makes the
    runs of short clips follow the sources' content rather than their ids; `keyframes` (by
    source id) moves the cuts of a long clip onto its source's keyframes.
    `encoder` "gpu" stays one piece (with a warning): pieces join only when every one was
    encoded with the same settings by the same encoder, and not every worker has NVENC.
    """
    if chunk_seconds != 0 and chunk_seconds < MIN_CHUNK_SECONDS:
        raise ValueError(f"chunk_seconds must be 0 (one piece) or at least {MIN_CHUNK_SECONDS}")
    total = timeline.frame_count
    whole = [PieceSpan(0, 0, total)]
    if chunk_seconds == 0:
        return whole, []
    length = piece_frames(timeline.fps, chunk_seconds)
    if total <= 2 * length:
        return whole, []
    if encoder == "gpu" and fmt != "webm":  # webm is VP9 on the CPU anyway
        return whole, ["render_options.encoder gpu renders in one piece: pieces are all "
                       "encoded on the CPU, so that they join"]
    bounds = _bounds(timeline, length, contents or {}, keyframes or {})
    return [PieceSpan(i, a, b) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))], []


def _cuts(clip: TimelineClip, fps: Fraction, length: int,
          keyframes: Optional[Sequence[Fraction]]) -> list[int]:
    """Clip frames where a long clip is cut: the first frame at or after each multiple of
    `length` frames of source time (of clip frames, for a still image), or at or after the
    source keyframe nearest to that point (within half a piece) when keyframes are known."""
    video = clip.kind == MediaKind.VIDEO
    shift = clip.source_start * fps if video else Fraction(0)
    half, n = length // 2, clip.frame_count
    # The clip frame where each known keyframe is first shown, of those a cut may fall on.
    snaps = sorted({k for k in (math.ceil(t * fps - shift) for t in keyframes or ())
                    if half <= k <= n - half}) if video else []
    first = math.floor(shift / length) + 1
    cuts = []
    for j in range(first, first + n // length + 2):
        point = math.ceil(j * length - shift)
        if not half <= point <= n - half:
            continue  # it would leave less than half a piece at an end: no keyframe rescues it
        k = _nearest(snaps, point, half)  # a snap or the point: both leave half a piece
        if not cuts or k > cuts[-1]:
            cuts.append(k)
    return cuts


def _nearest(snaps: Sequence[int], point: int, reach: int) -> int:
    """The value of `snaps` nearest to `point` (the earlier of two as near), if one is
    within `reach`; else `point`."""
    at = bisect_left(snaps, point)
    near = min(snaps[max(at - 1, 0):at + 1], key=lambda k: (abs(k - point), k), default=None)
    return near if near is not None and abs(near - point) <= reach else point


def _parts(timeline: Timeline, length: int, keyframes: Keyframes
           ) -> Iterator[tuple[ClipPart, bool]]:
    """Each clip's parts in output order, and whether the part stands alone (a long clip's)."""
    for clip in timeline.clips:
        if clip.frame_count <= 0:
            continue
        cuts = _cuts(clip, timeline.fps, length, keyframes.get(clip.source_id))
        edges = [0, *cuts, clip.frame_count]
        alone = len(edges) > 2 or clip.frame_count >= length
        for first, end in zip(edges, edges[1:]):
            yield ClipPart(clip, first, end), alone


def _ends_run(part: ClipPart, fps: Fraction, length: int, contents: Contents) -> bool:
    """Whether a run of short clips ends after this one: its hash, as a number in [0, 1),
    is below twice its share of a piece (runs of about half a piece on average)."""
    shown = part.shows(fps, contents.get(part.clip.source_id))
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < 2 * part.frames / length


def _bounds(timeline: Timeline, length: int, contents: Contents, keyframes: Keyframes
            ) -> list[int]:
    """The output frames where pieces start, and the end."""
    bounds, run = [0], 0  # `run`: frames of short clips since the last bound

    def cut(at: int) -> None:
        if at > bounds[-1]:
            bounds.append(at)

    for part, alone in _parts(timeline, length, keyframes):
        if alone or run + part.frames > 2 * length:
            cut(part.start)
            run = 0
        if alone:
            cut(part.start + part.frames)
            continue
        run += part.frames
        if _ends_run(part, timeline.fps, length, contents):
            cut(part.start + part.frames)
            run = 0
    cut(timeline.frame_count)
    return bounds


def clip_parts(timeline: Timeline, span: PieceSpan) -> list[ClipPart]:
    """The parts of clips a piece shows, in order (whole parts: plan_pieces cuts on them)."""
    parts = []
    for clip in timeline.clips:
        first = max(span.start - clip.frame_start, 0)
        end = min(span.end - clip.frame_start, clip.frame_count)
        if first < end:
            parts.append(ClipPart(clip, first, end))
    return parts


def sources_for(timeline: Timeline, span: PieceSpan) -> set[str]:
    """The source ids whose pictures the piece shows (all a piece's worker must fetch)."""
    return {part.clip.source_id for part in clip_parts(timeline, span)}


def sound_sources(timeline: Timeline) -> set[str]:
    """The source ids the sound is mixed from (render_audio's; images have none)."""
    return ({clip.source_id for clip in timeline.clips if clip.kind == MediaKind.VIDEO}
            | {track.source_id for track in timeline.overlays})
