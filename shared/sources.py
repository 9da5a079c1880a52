"""Resolve the ids an edit names to the caller's media rows: uploads and finished renders.

The API uses it to validate an edit (422 for unknown or unready sources); the worker uses it
to find the stored objects to render from.
"""
from __future__ import annotations

from typing import Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from .edit import VideoEdit
from .edit_sources import MediaKind, SourceInfo
from .models import GENERATED_VIDEO, Asset, VideoFile
from .states import (MEDIA_READINESS, RENDER_READINESS, JobState, MediaState,
                     Readiness)

Media = Union[Asset, VideoFile]


# The table a clip's `type` finds its source in (an overlay, which has none, looks in both),
# and the type that finds a row of each table.
CLIP_MODELS = {"videofile": (VideoFile,), "asset": (Asset,), "image": (Asset,)}
CLIP_TYPE_OF = {VideoFile: "videofile", Asset: "asset"}


def _media_of(row: Media | None) -> Media | None:
    """A video-reference asset renders from the library file it links to."""
    if isinstance(row, Asset) and row.video_file_id:
        return row.video_file
    return row


def find_media(session: Session, owner_id: str, media_id: str, clip_type: str | None) -> Media | None:
    """The caller's row for `media_id`: a video file for type `videofile`, else an asset."""
    for model in CLIP_MODELS.get(clip_type or "", (Asset, VideoFile)):
        row = session.execute(
            select(model).where(model.id == media_id, model.owner_id == owner_id)
        ).scalar_one_or_none()
        if row is not None:
            return _media_of(row)
    return None


def find_sources(session: Session, owner_id: str, edit: VideoEdit) -> dict[str, Media | None]:
    """Every source id of `edit`: the caller's row, whatever its status, or None."""
    return {media_id: find_media(session, owner_id, media_id, clip_type)
            for media_id, clip_type in edit.source_ids().items()}


def _is_render(row: Media) -> bool:
    return isinstance(row, Asset) and row.asset_type == GENERATED_VIDEO


def _state(enum, value):
    try:
        return enum(value)
    except ValueError:
        return None


def readiness(row: Media) -> tuple[Readiness, str | None]:
    """The row's readiness as a source and, when UNUSABLE, why (words after its id).

    A render's output follows its job's states, any other row an upload's; a status that
    is neither (a row written by some other tool) is unusable, never waited for."""
    render = _is_render(row)
    state = _state(JobState if render else MediaState, row.status)
    if state is None:
        return Readiness.UNUSABLE, f"is in an unknown state {row.status!r}"
    found = (RENDER_READINESS if render else MEDIA_READINESS)[state]
    if found == Readiness.UNUSABLE or (found == Readiness.READY and not row.storage_key):
        return Readiness.UNUSABLE, _why_unusable(render, state, row.error or "no reason given")
    return found, None


def _why_unusable(render: bool, state, error: str) -> str:
    if render and state == JobState.FAILED:
        return f"is a render that failed: {error}"
    if render:
        return f"is a render that was {state.value}"  # canceled, or finished without a file
    if state == MediaState.FAILED:
        return f"could not be analysed: {error}"
    return "is not uploaded yet"


def ready(row: Media | None) -> bool:
    """The row is a source a render may use now: its bytes stored, its streams known."""
    return row is not None and readiness(row)[0] == Readiness.READY


def resolve(session: Session, owner_id: str, edit: VideoEdit) -> dict[str, Media]:
    """Every source id of `edit` that names a ready row of the caller, keyed by id."""
    return {media_id: row for media_id, row in find_sources(session, owner_id, edit).items()
            if ready(row)}


def not_ready(media_id: str, row: Media | None) -> str | None:
    """Why a render can never use this source as it stands (None: ready, or pending, which
    a render may wait for). Total: every state of every kind of source has an answer
    (shared.states' readiness tables). The reason names the source."""
    if row is None:
        return f"source {media_id} was deleted"
    state, why = readiness(row)
    return f"source {media_id} {why}" if state == Readiness.UNUSABLE else None


def misnamed(session: Session, owner_id: str, media_id: str, clip_type: str | None) -> str | None:
    """For an id its clip's `type` did not find: the type that would have found it."""
    if clip_type not in CLIP_MODELS:
        return None
    (other,) = {Asset, VideoFile} - set(CLIP_MODELS[clip_type])
    found = session.execute(select(other.id).where(other.id == media_id,
                                                   other.owner_id == owner_id)).first()
    return CLIP_TYPE_OF[other] if found else None


def source_info(row: Media) -> SourceInfo:
    still = row.media_kind == MediaKind.IMAGE
    # Every render Canopy writes has a picture and a sound track: one finished before its
    # stream facts were recorded at the finish (they are now) renders as well.
    render = _is_render(row)
    return SourceInfo(
        kind=MediaKind(row.media_kind or MediaKind.VIDEO),
        duration=None if still else row.duration,
        has_audio=bool(row.audio_codec) or render,
        has_video=bool(row.video_codec) or still or render,
    )
