"""Resolve the ids an edit names to the caller's probed media rows.

The API uses it to validate an edit (422 for unknown or unready sources); the worker uses it
to find the stored objects to render from.
"""
from __future__ import annotations

from typing import Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from .edit import SourceInfo, VideoEdit
from .models import Asset, VideoFile
from .states import MediaState

Media = Union[Asset, VideoFile]


def _media_of(row: Media | None) -> Media | None:
    """A video-reference asset renders from the library file it links to."""
    if isinstance(row, Asset) and row.video_file_id:
        return row.video_file
    return row


def find_media(session: Session, owner_id: str, media_id: str, clip_type: str | None) -> Media | None:
    """The caller's row for `media_id`: a video file for type `videofile`, else an asset."""
    kinds = {"videofile": (VideoFile,), "asset": (Asset,), "image": (Asset,)}.get(
        clip_type or "", (Asset, VideoFile))
    for model in kinds:
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


def analysed(row: Media | None) -> bool:
    return row is not None and row.status == MediaState.ANALYZED and bool(row.storage_key)


def resolve(session: Session, owner_id: str, edit: VideoEdit) -> dict[str, Media]:
    """Every source id of `edit` that names an analysed row of the caller, keyed by id."""
    return {media_id: row for media_id, row in find_sources(session, owner_id, edit).items()
            if analysed(row)}


def not_ready(media_id: str, row: Media | None) -> str | None:
    """Why a render cannot use this source yet or ever (None: analysed, or still being
    analysed, which a render may wait for). The reason names the source."""
    if row is None:
        return f"source {media_id} was deleted"
    if row.status == MediaState.FAILED:
        return f"source {media_id} could not be analysed: {row.error or 'no reason given'}"
    if row.status == MediaState.WAITING or (row.status == MediaState.ANALYZED and not row.storage_key):
        return f"source {media_id} is not uploaded yet"
    return None


def source_info(row: Media) -> SourceInfo:
    still = row.media_kind == "image"
    return SourceInfo(
        kind=row.media_kind or "video",
        duration=None if still else row.duration,
        has_audio=bool(row.audio_codec),
        has_video=bool(row.video_codec) or still,
    )
