"""The edit's rules that need its sources: what a probe knows of each, what an edit may ask
of them, and the clip ends made explicit for a render.

    warnings = check_sources(edit, infos)       # EditSourceError on a rule of the sources
    edit = clamp_to_sources(edit, infos)        # ends past the source by < 0.5 s
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Optional

from .edit import MAX_OUTPUT_SECONDS, AudioOverlay, Clip, VideoEdit

CLAMP_TOLERANCE = 0.5  # seconds an end may pass the source's end before it is an error


class MediaKind(StrEnum):
    """What a probe finds a file to be; a stored file's `media_kind` holds its value."""

    VIDEO = "video"
    IMAGE = "image"  # a still picture
    AUDIO = "audio"


@dataclass(frozen=True)
class SourceInfo:
    """What the API's probe (or the worker's) knows of a source."""

    kind: MediaKind
    duration: Optional[float]  # seconds; None for still images
    has_audio: bool
    has_video: bool

    @property
    def still(self) -> bool:
        """A still picture: shown for as long as its clip says, with no sound of its own."""
        return self.kind == MediaKind.IMAGE or self.duration is None


class EditSourceError(ValueError):
    """The edit does not fit its sources; `errors` are FastAPI-style dicts."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def _error(loc: tuple, msg: str, kind: str = "value_error.source") -> dict:
    return {"loc": list(loc), "msg": msg, "type": kind}


def check_sources(edit: VideoEdit, sources: Mapping[str, SourceInfo],
                  max_output_seconds: float = MAX_OUTPUT_SECONDS,
                  pending: Collection[str] = ()) -> list[str]:
    """Warnings for ends clamped to their source; EditSourceError for every broken rule,
    among them an output longer than `max_output_seconds`. Sources in `pending` are still
    being analysed: only what the edit says of them is checked (the render checks the rest)."""
    errors: list[dict] = []
    warnings: list[str] = []
    for use in edit.source_uses():
        info = sources.get(use.id)
        if use.id in pending:
            continue
        if info is None:
            errors.append(_error(use.loc, f"unknown {use.loc[-1]}"))
        elif isinstance(use.part, Clip):
            _check_clip(use.loc[1], use.part, info, errors, warnings)
        else:
            _check_overlay(use.loc[1], use.part, info, errors)
    if not errors:
        _check_length(edit, sources, max_output_seconds, errors)
    if errors:
        raise EditSourceError(errors)
    return warnings


def _check_clip(i: int, clip: Clip, info: SourceInfo, errors: list, warnings: list):
    loc = ("video_series_sequential", i)
    if not info.has_video:
        errors.append(_error(loc + ("video_id",), "source has no video stream"))
        return
    if info.still:
        if clip.video_end_time is None:
            errors.append(_error(loc + ("video_end_time",), "an image clip needs an end time"))
        return
    if clip.video_start_time >= info.duration:
        errors.append(_error(loc + ("video_start_time",),
                             f"starts at or after the end of the source ({info.duration:.3f} s)"))
        return
    end = clip.video_end_time
    if end is not None and end > info.duration:
        if end - info.duration >= CLAMP_TOLERANCE:
            errors.append(_error(loc + ("video_end_time",),
                                 f"ends after the end of the source ({info.duration:.3f} s)"))
        else:
            warnings.append(f"video_series_sequential.{i}.video_end_time clamped to the "
                            f"source's end {info.duration:.3f} s")


def _check_length(edit: VideoEdit, sources: Mapping[str, SourceInfo], limit: float,
                  errors: list) -> None:
    """The clip whose end takes the output past `limit` seconds is the one named."""
    total = 0.0
    for i, clip in enumerate(edit.video_series_sequential):
        info = sources.get(clip.video_id)  # None: still being analysed, its length unknown
        end = clip_end(clip, info) if info else (clip.video_end_time or clip.video_start_time)
        total += end - clip.video_start_time
        if total > limit:
            errors.append(_error(("video_series_sequential", i, "video_end_time"),
                                 f"the output would last {total:.3f} s or more, over the "
                                 f"limit of {limit:g} s (CANOPY_MAX_OUTPUT_SECONDS)"))
            return


def _check_overlay(i: int, overlay: AudioOverlay, info: SourceInfo, errors: list):
    loc = ("audio_overlay", i)
    if not info.has_audio:
        errors.append(_error(loc + ("audio_id",), "source has no audio stream"))
    elif info.duration is not None and overlay.source_start_time >= info.duration:
        errors.append(_error(loc + ("source_start_time",),
                             f"starts at or after the end of the source ({info.duration:.3f} s)"))


def clip_end(clip: Clip, info: SourceInfo) -> float:
    """The clip's end in source time: given, clamped to the source, or the source's end."""
    if info.duration is None:
        return clip.video_end_time  # an image: check_sources made sure there is one
    if clip.video_end_time is None:
        return info.duration
    return min(clip.video_end_time, info.duration)


def clamp_to_sources(edit: VideoEdit, sources: Mapping[str, SourceInfo]) -> VideoEdit:
    """A copy whose clip ends are all explicit and within their sources."""
    clips = [
        clip.model_copy(update={"video_end_time": clip_end(clip, sources[clip.video_id])})
        for clip in edit.video_series_sequential
    ]
    copy = edit.model_copy(update={"video_series_sequential": clips})
    copy._warnings = list(edit._warnings)
    return copy
