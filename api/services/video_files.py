"""The caller's video-file library: create (three upload methods), read, search, delete."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for
from sqlalchemy import or_, select

from shared import keys
from shared.errors import Unprocessable
from shared.fetch import FetchError, check_url
from shared.models import VideoFile
from shared.queue import FETCH_TASK, MEDIA_QUEUE, send

from ..context import get_session, get_settings, get_storage, services
from ..multipart import FileUpload
from ..schemas import VideoFileCreate, VideoSearch
from shared.naming import clean_filename
from shared.states import MEDIA, MediaState

from .owned import newest_first, owned_row
from .uploads import receive_file, request_probe
from .projects import delete_sources
from ..auth import Caller


def owned_video_file(user: Caller, video_file_id) -> VideoFile:
    return owned_row(VideoFile, user, video_file_id, "Video file")


def create_video_file(user: Caller, body: VideoFileCreate) -> tuple[VideoFile, str | None]:
    """A new video file and where to send its bytes (None for `url`: the server fetches it)."""
    if body.upload_method == "url":
        try:  # refused at once when it can be; the worker checks every hop again
            check_url(body.filename, allow=get_settings().fetch_allow)
        except FetchError as exc:
            raise Unprocessable.field(("body", "filename"), str(exc)) from None
    row = VideoFile(
        owner_id=user.id, name=body.name, description=body.description, tags=body.tags,
        upload_method=body.upload_method, status=MediaState.WAITING,
        filename=clean_filename(urlsplit(body.filename).path if body.upload_method == "url"
                                else body.filename, default="download"),
        source_url=body.filename if body.upload_method == "url" else None,
    )
    session = get_session()
    session.add(row)
    session.flush()
    upload_url = None
    if body.upload_method == "file-no-chunk":
        upload_url = url_for("video_files.upload_video", video_file_id=row.id)
    elif body.upload_method == "direct":
        row.storage_key = keys.media_key(row, row.filename)
        upload_url = get_storage().upload_url(row.storage_key)["url"]
    else:
        row.status = MEDIA.move(row.status, MediaState.PROCESSING)
    session.commit()
    if body.upload_method == "url":
        send(services().celery, FETCH_TASK, [row.id], MEDIA_QUEUE)
    return row, upload_url


def upload_video(user: Caller, video_file_id, upload: FileUpload) -> VideoFile:
    row = owned_video_file(user, video_file_id)
    receive_file(row, upload)
    return row


def request_analysis(user: Caller, video_file_id) -> VideoFile:
    return request_probe(owned_video_file(user, video_file_id))


def list_video_files(user: Caller, sha256: str | None = None) -> list[VideoFile]:
    if sha256 is None:
        return newest_first(VideoFile, owner_id=user.id)
    return newest_first(VideoFile, owner_id=user.id, sha256=sha256.lower())  # as the probe has it


def search_video_files(user: Caller, search: VideoSearch) -> list[VideoFile]:
    query = select(VideoFile).where(VideoFile.owner_id == user.id)
    if search.query:
        pattern = f"%{search.query}%"
        query = query.where(or_(VideoFile.name.ilike(pattern), VideoFile.description.ilike(pattern),
                                VideoFile.filename.ilike(pattern)))
    filters = search.filters
    if filters and filters.duration:
        query = query.where(VideoFile.duration >= filters.duration.min,
                            VideoFile.duration <= filters.duration.max)
    if filters and filters.created_after:
        query = query.where(VideoFile.created_at >= filters.created_after.replace(tzinfo=None))
    if filters and filters.created_before:
        query = query.where(VideoFile.created_at <= filters.created_before.replace(tzinfo=None))
    rows = get_session().execute(query.order_by(VideoFile.created_at.desc())).scalars()
    if filters and filters.tags:
        wanted = set(filters.tags)
        rows = [row for row in rows if wanted & set(row.tags or [])]
    return list(rows)[: search.limit]


def delete_video_file(user: Caller, video_file_id) -> str:
    row = owned_video_file(user, video_file_id)
    delete_sources(user.id, row, [row.sha256], keys.media_folder(row))
    return row.id
