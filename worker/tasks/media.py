"""Media tasks: probe an uploaded file, fetch a `url` upload."""
from __future__ import annotations

import logging
import os
import tempfile
from urllib.parse import urlsplit

from shared import keys, waiting_jobs
from shared.models import FILE_TABLES, Asset, VideoFile
from shared.edit_sources import MediaKind
from shared.naming import clean_filename
from shared.queue import FETCH_TASK, PROBE_TASK
from shared.fetch import FetchError, fetch_url
from shared.states import MEDIA, MediaState
from shared.storage import ObjectNotFound
from worker.media.probe import ProbeError, probe
from worker.media.thumbnail import make_thumbnail

from .. import context
from ..celery import app

log = logging.getLogger(__name__)


@app.task(name=PROBE_TASK)
def probe_media(table: str, row_id: str) -> None:
    """Download the stored file, probe it, store a thumbnail, record what was learnt."""
    with context.db().session() as session:
        row = session.get(FILE_TABLES[table], row_id)
        if row is None or not row.storage_key:
            return  # deleted meanwhile, or nothing uploaded yet
        key = row.storage_key
        owner_id = row.owner_id
    # Whatever goes wrong from here, the row ends failed with a reason, never processing.
    try:
        found, thumb_key = _probe_stored(key)
    except ProbeError as exc:
        _finish(table, row_id, key, error=str(exc))
    except ObjectNotFound:
        _finish(table, row_id, key, error="the uploaded file is no longer stored; upload it again")
    except Exception:
        log.exception("probe of %s %s (%s) failed", table, row_id, key)
        _finish(table, row_id, key, error="the file could not be analysed (an internal error); "
                                         "request the analysis again")
    else:
        _finish(table, row_id, key, found=found, thumbnail_key=thumb_key)
    release_renders(owner_id)


def release_renders(owner_id: str) -> None:
    """An analysis of the owner's ended: send the renders that waited for it, now ready (or
    fail those naming a source that failed)."""
    with context.db().session() as session:
        waiting_jobs.settle_and_send(session, app, owner_id)


def _probe_stored(key: str):
    """Probe the object at `key`, storing a thumbnail beside it: (what was found, its key)."""
    with tempfile.TemporaryDirectory(dir=context.scratch()) as tmp:
        local = os.path.join(tmp, "source")
        context.storage().download_to(key, local)
        found = probe(local)
        if found.media_kind not in (MediaKind.VIDEO, MediaKind.IMAGE):
            return found, None
        thumb_path = os.path.join(tmp, "thumbnail.jpg")
        make_thumbnail(local, thumb_path)
        thumb_key = keys.thumbnail_key(key)
        context.storage().put_file(thumb_key, thumb_path, content_type="image/jpeg")
        return found, thumb_key


def _finish(table, row_id, key, *, found=None, thumbnail_key=None, error=None) -> None:
    with context.db().session() as session:
        row = session.get(FILE_TABLES[table], row_id)
        if row is None or row.storage_key != key or row.status != MediaState.PROCESSING:
            return  # deleted, replaced by a newer upload whose own probe will finish, or done
        if error:
            row.status, row.error = MEDIA.move(row.status, MediaState.FAILED), error
            return
        for field, value in found.columns().items():
            setattr(row, field, value)
        row.thumbnail_key, row.error = thumbnail_key, None
        row.status = MEDIA.move(row.status, MediaState.ANALYZED)
        if isinstance(row, Asset):
            row.uploaded, row.progress = True, 1.0
        else:
            row.analysis = [{"type": "probe", **found.described()}]


@app.task(name=FETCH_TASK)
def fetch_video_file(video_file_id: str) -> None:
    """Fetch a `url` upload (private addresses refused), store it, then probe it."""
    settings = context.settings()
    with context.db().session() as session:
        row = session.get(VideoFile, video_file_id)
        if row is None:
            return
        url, owner_id = row.source_url, row.owner_id
        name = clean_filename(urlsplit(url).path, default="download")
        key = keys.media_key(row, name)
    with tempfile.TemporaryDirectory(dir=context.scratch()) as tmp:
        local = os.path.join(tmp, "download")
        try:
            fetch_url(url, local, max_bytes=settings.max_upload_bytes, timeout=600,
                      allow=settings.fetch_allow)
        except FetchError as exc:
            with context.db().session() as session:
                row = session.get(VideoFile, video_file_id)
                if row is not None and row.status == MediaState.PROCESSING:
                    row.status = MEDIA.move(row.status, MediaState.FAILED)
                    row.error = f"could not fetch the URL: {exc}"
            release_renders(owner_id)
            return
        size = context.storage().put_file(key, local)
    with context.db().session() as session:
        row = session.get(VideoFile, video_file_id)
        if row is None:
            context.storage().delete(key)
            return
        row.storage_key, row.size = key, size
    probe_media("video_file", video_file_id)

