"""Receiving a file: stream the multipart `file` to storage, then queue the probe."""
from __future__ import annotations

from flask import request

from shared.errors import Conflict, PayloadTooLarge, Unprocessable
from shared.models import Asset, VideoFile
from shared.naming import clean_filename
from shared.queue import MEDIA_QUEUE, PROBE_TASK, send
from shared.storage import TooLarge

from ..context import get_session, get_settings, get_storage, services

# Uploaded media moves queued (waiting for bytes) → processing (probe) → analyzed | failed.
WAITING, PROCESSING, ANALYZED, FAILED = "queued", "processing", "analyzed", "failed"


def media_key(row: Asset | VideoFile, filename: str) -> str:
    if isinstance(row, VideoFile):
        return f"{row.owner_id}/video-files/{row.id}/{filename}"
    return f"{row.owner_id}/{row.project_id}/{row.id}/{filename}"


def kind_of(row: Asset | VideoFile) -> str:
    return "video_file" if isinstance(row, VideoFile) else "asset"


def receive_file(row: Asset | VideoFile) -> None:
    """Store the request's multipart `file` as `row`'s object and queue its probe."""
    if row.status == PROCESSING:
        raise Conflict("this file is being processed; upload again once it is analyzed or failed")
    upload = request.files.get("file")
    if upload is None:
        raise Unprocessable.field(("body", "file"), "a multipart field 'file' is required")
    filename = clean_filename(upload.filename or getattr(row, "filename", None))
    key = media_key(row, filename)
    storage = get_storage()
    try:
        size = storage.put_stream(
            key, upload.stream, content_type=upload.mimetype or None,
            limit=get_settings().max_upload_bytes,
        )
    except TooLarge:
        storage.delete(key)
        raise PayloadTooLarge("file is larger than CANOPY_MAX_UPLOAD_BYTES") from None
    if size == 0:
        storage.delete(key)
        raise Unprocessable.field(("body", "file"), "the file is empty")
    if row.storage_key and row.storage_key != key:
        storage.delete(row.storage_key)
    row.storage_key, row.size, row.filename = key, size, filename
    queue_probe(row)


def queue_probe(row: Asset | VideoFile) -> None:
    """Mark `row` processing, commit, then send the probe (never before the commit)."""
    row.status, row.error = PROCESSING, None
    if isinstance(row, Asset):
        row.uploaded = False
    session = get_session()
    session.commit()
    send(services().celery, PROBE_TASK, [kind_of(row), row.id], MEDIA_QUEUE)
