"""The output timeline: which source plays when, counted in exact frames and samples.

Clip i starts at T_i = sum of the durations before it. It owns output frames
[round(T_i*fps), round(T_{i+1}*fps)) and samples [round(T_i*48000), round(T_{i+1}*48000)),
so the totals are round(D*fps) and round(D*48000) and audio never drifts from video.
Times are exact `Fraction`s built from the decimal the edit gave; rounding is half up.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

from shared.edit import AUTO_CROP_ZOOM, Crop, VideoEdit
from shared.edit_sources import MediaKind, SourceInfo, clip_end

SAMPLE_RATE = 48000

# (start, end, level); None = open on that side (the whole clip / the whole window).
LevelRange = tuple[Optional[float], Optional[float], float]


def exact(seconds: float) -> Fraction:
    """The decimal a float was written as (0.1 -> 1/10), so sums do not accumulate error."""
    return Fraction(repr(float(seconds)))


def round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


@dataclass(frozen=True)
class TimelineClip:
    """One entry of the sequence, placed on the output timeline."""

    index: int
    source_id: str
    kind: MediaKind  # VIDEO or IMAGE (an image has no audio)
    source_start: Fraction  # seconds, source time
    source_end: Fraction
    frame_start: int
    frame_count: int
    sample_start: int
    sample_count: int
    levels: tuple[LevelRange, ...]  # source time
    framing: Optional[Crop]  # None: fit inside with bars; else cover, zoom and position

    @property
    def duration(self) -> Fraction:
        return self.source_end - self.source_start


@dataclass(frozen=True)
class SoundOverlay:
    """An audio track mixed over output samples [sample_start, sample_end)."""

    index: int
    source_id: str
    sample_start: int
    sample_end: int
    source_start: float  # seconds into the source where it starts playing
    loop: bool
    levels: tuple[LevelRange, ...]  # output time


@dataclass(frozen=True)
class PieceSpan:
    """Output frames [start, end) of one piece; `index` is its place in the join."""

    index: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    fps: Fraction
    clips: tuple[TimelineClip, ...]
    overlays: tuple[SoundOverlay, ...]
    duration: Fraction
    sample_rate: int = SAMPLE_RATE

    @property
    def frame_count(self) -> int:
        return round_half_up(self.duration * self.fps)

    @property
    def sample_count(self) -> int:
        return round_half_up(self.duration * self.sample_rate)


def _levels(levels) -> tuple[LevelRange, ...]:
    return tuple((lv.start_time, lv.end_time, lv.audio_level) for lv in levels)


def build_timeline(edit: VideoEdit, sources: Mapping[str, SourceInfo]) -> tuple[Timeline, list[str]]:
    """Place every clip and overlay; `sources` must cover every id (see check_sources)."""
    fps = edit.fps
    clips, t = [], Fraction(0)
    for i, clip in enumerate(edit.video_series_sequential):
        info = sources[clip.video_id]
        start, end = exact(clip.video_start_time), exact(clip_end(clip, info))
        t_next = t + (end - start)
        f0, f1 = round_half_up(t * fps), round_half_up(t_next * fps)
        s0, s1 = round_half_up(t * SAMPLE_RATE), round_half_up(t_next * SAMPLE_RATE)
        framing = clip.crop
        if framing is None and edit.auto_vertical_crop:
            framing = Crop(zoom=AUTO_CROP_ZOOM[edit.auto_vertical_crop])
        kind = MediaKind.IMAGE if info.still else MediaKind.VIDEO
        clips.append(TimelineClip(i, clip.video_id, kind, start, end, f0, f1 - f0, s0,
                                  s1 - s0, _levels(clip.audio_levels), framing))
        t = t_next
    overlays, warnings = _place_overlays(edit, t)
    timeline = Timeline(*edit.output_size, fps, tuple(clips), tuple(overlays), t)
    return timeline, warnings


def _place_overlays(edit: VideoEdit, duration: Fraction) -> tuple[list[SoundOverlay], list[str]]:
    overlays, warnings = [], []
    total = round_half_up(duration * SAMPLE_RATE)
    for i, ov in enumerate(edit.audio_overlay):
        start = exact(ov.audio_start_time or 0)
        end = duration if ov.audio_end_time is None else min(exact(ov.audio_end_time), duration)
        if start >= duration:
            warnings.append(f"audio_overlay.{i} starts after the end of the output; not heard")
            continue
        if ov.audio_end_time is not None and exact(ov.audio_end_time) > duration:
            warnings.append(f"audio_overlay.{i}.audio_end_time is past the end of the output; cut")
        s0 = round_half_up(start * SAMPLE_RATE)
        s1 = min(total, round_half_up(end * SAMPLE_RATE))
        overlays.append(SoundOverlay(i, ov.audio_id, s0, s1, ov.source_start_time, ov.loop,
                                     _levels(ov.audio_levels)))
    return overlays, warnings


def timeline_to_dict(timeline: Timeline) -> dict:
    """The timeline as JSON-ready data (exact fractions as "n/d"): laid out once, from every
    source's probe, then handed to the workers of pieces that have only their own sources."""
    def clip(c: TimelineClip) -> dict:
        return {"index": c.index, "source_id": c.source_id, "kind": c.kind,
                "source_start": str(c.source_start), "source_end": str(c.source_end),
                "frame_start": c.frame_start, "frame_count": c.frame_count,
                "sample_start": c.sample_start, "sample_count": c.sample_count,
                "levels": [list(lv) for lv in c.levels],
                "framing": c.framing.model_dump() if c.framing is not None else None}

    def overlay(o: SoundOverlay) -> dict:
        return {"index": o.index, "source_id": o.source_id, "sample_start": o.sample_start,
                "sample_end": o.sample_end, "source_start": o.source_start, "loop": o.loop,
                "levels": [list(lv) for lv in o.levels]}

    return {"width": timeline.width, "height": timeline.height, "fps": str(timeline.fps),
            "duration": str(timeline.duration), "sample_rate": timeline.sample_rate,
            "clips": [clip(c) for c in timeline.clips],
            "overlays": [overlay(o) for o in timeline.overlays]}


def timeline_from_dict(data: dict) -> Timeline:
    """The Timeline that timeline_to_dict wrote (equal to the original)."""
    def levels(values) -> tuple[LevelRange, ...]:
        return tuple((a, b, level) for a, b, level in values)

    clips = tuple(
        TimelineClip(c["index"], c["source_id"], MediaKind(c["kind"]), Fraction(c["source_start"]),
                     Fraction(c["source_end"]), c["frame_start"], c["frame_count"],
                     c["sample_start"], c["sample_count"], levels(c["levels"]),
                     Crop(**c["framing"]) if c["framing"] is not None else None)
        for c in data["clips"])
    overlays = tuple(
        SoundOverlay(o["index"], o["source_id"], o["sample_start"], o["sample_end"],
                     o["source_start"], o["loop"], levels(o["levels"]))
        for o in data["overlays"])
    return Timeline(data["width"], data["height"], Fraction(data["fps"]), clips, overlays,
                    Fraction(data["duration"]), data["sample_rate"])
