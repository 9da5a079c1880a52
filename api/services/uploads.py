"""Receiving a file: stream the multipart `file` to storage, then queue the probe."""
from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from shared import keys
from shared.errors import Conflict, NotFound, PayloadTooLarge, Unprocessable
from shared.models import Asset, VideoFile, file_table
from shared.naming import clean_filename
from shared.queue import MEDIA_QUEUE, PROBE_TASK, send
from shared.states import MEDIA, MediaState
from shared.storage import ObjectNotFound, TooLarge

from ..context import get_session, get_settings, get_storage, services
from ..multipart import FileUpload
from .waiting import settle_renders

log = logging.getLogger(__name__)


def receive_file(row: Asset | VideoFile, upload: FileUpload) -> None:
    """Store the request's multipart `file` as `row`'s new object and queue its probe.

    The bytes go to a key of their own: a refused upload (empty, too large, a race) never
    touches the object the row already has. A row deleted while the bytes arrive (its own
    delete, or its project's) is a 404, and the new object is removed.
    """
    get_session().commit()  # the body may take minutes to arrive: hold no transaction meanwhile
    reader, part = upload.open()
    previous = claim_for_upload(row)
    filename = clean_filename(part.filename or row.filename)
    key = keys.upload_key(row, filename)
    storage = get_storage()
    content_type = part.headers.get("content-type", "").split(";")[0].strip().lower() or None
    try:
        size = storage.put_stream(key, reader, content_type=content_type,
                                  limit=get_settings().max_upload_bytes)
        reader.finish()
        if size == 0:
            raise Unprocessable.field(("body", "file"), "the file is empty")
    except BaseException as exc:
        try:
            discard(key)
        finally:
            release_upload(row, previous)  # 404 when the row is gone
        if isinstance(exc, TooLarge):
            raise PayloadTooLarge("file is larger than CANOPY_MAX_UPLOAD_BYTES") from None
        raise
    replaced = [k for k in (row.storage_key, row.thumbnail_key) if k]
    row.storage_key, row.size, row.filename, row.thumbnail_key = key, size, filename, None
    try:
        queue_probe(row)
    except StaleDataError:  # the UPDATE matched no row: deleted while the bytes arrived
        get_session().rollback()
        discard(key)
        raise deleted_during_upload(row) from None
    for old in replaced:
        storage.delete(old)


def discard(key: str) -> None:
    """Remove an upload no row will point at; a failure leaves it to the orphan sweep."""
    try:
        get_storage().delete(key)
    except Exception:
        log.exception("could not delete the refused upload %s", key)


def deleted_during_upload(row: Asset | VideoFile) -> NotFound:
    return NotFound(f"the {file_table(row).replace('_', ' ')} was deleted during the upload; "
                    "nothing was stored")


def claim_for_upload(row: Asset | VideoFile) -> str:
    """Mark `row` processing unless it already is (one upload at a time); its former status.

    The former status is read with the claim (the row may have moved since the request read
    it: a probe that ended meanwhile), and the claim holds only if it is still that one."""
    model, session = type(row), get_session()
    previous = session.execute(select(model.status).where(model.id == row.id)).scalar()
    taken = 0
    if previous is not None and previous != MediaState.PROCESSING:
        taken = session.execute(update(model).where(
            model.id == row.id,
            MEDIA.may_go(model.status, MediaState.PROCESSING, MediaState(previous)),
        ).values(status=MediaState.PROCESSING)).rowcount
    session.commit()
    if previous is None:
        raise deleted_during_upload(row)
    if taken != 1:
        raise Conflict("this file is being processed; upload again once it is analyzed or failed")
    row.status = MediaState.PROCESSING
    return previous


def release_upload(row: Asset | VideoFile, previous: str) -> None:
    """Give `row` back its former status; 404 when it was deleted meanwhile. Renders that
    waited for this upload then go on with the former file, or fail: none arrived."""
    model, session, row_id, owner_id = type(row), get_session(), row.id, row.owner_id
    session.rollback()  # expires `row`: reading a deleted row's attributes would raise
    kept = session.execute(update(model).where(model.id == row_id).values(
        status=MEDIA.move(MediaState.PROCESSING, MediaState(previous)))).rowcount
    session.commit()
    if kept != 1:
        raise deleted_during_upload(row)
    settle_renders(owner_id)


def expects_direct_upload(key: str) -> bool:
    """Whether a row still waits for bytes at `key` (its `direct` upload link): the link of a
    deleted video file, asset or project must not store anything."""
    found = keys.owning_row(key)
    if found is None:
        return False
    model, row_id, owner_id = found
    session = get_session()
    row = session.get(model, row_id)
    session.commit()  # the body may take minutes to arrive: hold no transaction meanwhile
    return row is not None and row.owner_id == owner_id and row.storage_key == key


def request_probe(row: Asset | VideoFile) -> Asset | VideoFile:
    """Probe again; for `direct` uploads this is how Canopy learns the bytes arrived."""
    if row.status == MediaState.PROCESSING:
        return row
    storage = get_storage()
    try:
        size = storage.size(row.storage_key) if row.storage_key else None
    except ObjectNotFound:
        size = None
    if size is None:
        return row  # still waiting for the bytes: nothing to analyse yet
    limit = get_settings().max_upload_bytes
    if size > limit:  # a presigned S3 PUT carries no size condition: the limit holds here
        storage.delete(row.storage_key)
        raise PayloadTooLarge(f"the uploaded file has {size} bytes, more than "
                              f"CANOPY_MAX_UPLOAD_BYTES ({limit}); it was deleted")
    queue_probe(row)
    return row


def queue_probe(row: Asset | VideoFile) -> None:
    """Mark `row` processing, commit, then send the probe (never before the commit)."""
    if row.status != MediaState.PROCESSING:  # an upload claimed it already
        row.status = MEDIA.move(MediaState(row.status), MediaState.PROCESSING)
    row.error = None
    if isinstance(row, Asset):
        row.uploaded = False
    session = get_session()
    session.commit()
    send(services().celery, PROBE_TASK, [file_table(row), row.id], MEDIA_QUEUE)
