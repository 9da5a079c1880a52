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


def resolve(session: Session, owner_id: str, edit: VideoEdit) -> dict[str, Media]:
    """Every source id of `edit` that names an analysed row of the caller, keyed by id."""
    found: dict[str, Media] = {}
    for media_id, clip_type in edit.source_ids().items():
        row = find_media(session, owner_id, media_id, clip_type)
        if row is not None and row.status == MediaState.ANALYZED and row.storage_key:
            found[media_id] = row
    return found


def source_info(row: Media) -> SourceInfo:
    still = row.media_kind == "image"
    return SourceInfo(
        kind=row.media_kind or "video",
        duration=None if still else row.duration,
        has_audio=bool(row.audio_codec),
        has_video=bool(row.video_codec) or still,
    )
