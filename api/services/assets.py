"""Project assets: uploads, links to library video files, generated renders."""
from __future__ import annotations

from flask import url_for
from sqlalchemy import bindparam, func, null, select
from sqlalchemy.orm import joinedload

from shared import jobs, keys
from shared.errors import Conflict, NotFound, Unprocessable
from shared.models import GENERATED_VIDEO, Asset, EditCollaborator, VideoFile
from shared.naming import clean_filename
from shared.states import MediaState

from ..auth import Caller
from ..context import get_session, get_storage, read_row
from ..multipart import FileUpload
from ..schemas import AssetCreate
from .asset_rows import asset_rows
from .owned import own_row, owned_row, readable
from .projects import delete_sources, owned_project
from .uploads import receive_file, request_probe


def owned_asset(user: Caller, asset_id) -> Asset:
    # The linked library file comes in the same query: status polls hit this path hardest.
    return owned_row(Asset, user, asset_id, "Asset", options=[joinedload(Asset.video_file)])


def readable_asset(user: Caller, asset_id) -> Asset:
    """The caller's asset, or a render of an edit shared with the caller (to read only)."""
    row = get_session().get(Asset, str(asset_id), options=[joinedload(Asset.video_file)])
    if row is None or not readable(user, row, row.edit_id if row.asset_type == GENERATED_VIDEO
                                   else None):
        raise NotFound("Asset not found")
    return row


# Built once: building it for each poll cost more than running it.
_VERSION = (
    select(Asset.updated_at, VideoFile.updated_at)
    .outerjoin(VideoFile, VideoFile.id == Asset.video_file_id)
    .where(Asset.id == bindparam("asset_id"), Asset.owner_id == bindparam("owner_id"))
)
# A render of an edit shared with the caller: read on every poll, so a removal holds at once.
_SHARED_VERSION = (
    select(Asset.updated_at, null())
    .join(EditCollaborator, EditCollaborator.edit_id == Asset.edit_id)
    .where(Asset.id == bindparam("asset_id"), Asset.asset_type == GENERATED_VIDEO,
           EditCollaborator.user_id == bindparam("owner_id"))
)


def version_of(asset: Asset) -> tuple:
    """The version of a loaded asset, as `asset_version` reads it from the database."""
    return asset.updated_at, asset.video_file.updated_at if asset.video_file else None


def asset_version(user: Caller, asset_id) -> tuple:
    """What changes whenever the answer about the caller's asset (or a render shared with
    them) would: one indexed read (two for a shared render), no Session."""
    version = (read_row(_VERSION, asset_id=str(asset_id), owner_id=user.id)
               or read_row(_SHARED_VERSION, asset_id=str(asset_id), owner_id=user.id))
    if version is None:
        raise NotFound("Asset not found")
    return tuple(version)


def list_assets(user: Caller, project_id, generated_only: bool = False,
                limit: int | None = None, page: int = 1) -> tuple[list[tuple], int | None]:
    """The project's assets, oldest first, as api/services/asset_rows.py reads them: all of
    them (total None), or page `page` of `limit` and how many there are."""
    project = owned_project(user, project_id)
    where = [Asset.project_id == project.id]
    if generated_only:
        where.append(Asset.asset_type == GENERATED_VIDEO)
    session = get_session()
    if limit is None:
        return asset_rows(session, *where), None
    total = session.execute(select(func.count()).select_from(Asset).where(*where)).scalar_one()
    return asset_rows(session, *where, limit=limit, offset=(page - 1) * limit), total


def create_asset(user: Caller, project_id, body: AssetCreate) -> tuple[Asset, dict | None]:
    """A new asset and, for uploads, where to send its bytes."""
    project = owned_project(user, project_id)
    session = get_session()
    row = Asset(
        owner_id=user.id, project_id=project.id, keyname=body.keyname,
        description=body.description, status=MediaState.WAITING, filename=clean_filename(body.keyname),
        asset_type="video-reference" if body.upload_method == "video-reference" else body.asset_type,
    )
    if body.upload_method == "video-reference":
        video = own_row(VideoFile, user, body.keyname.strip())
        if video is None:
            raise Unprocessable.field(("body", "keyname"), "unknown video file id")
        row.video_file_id, row.filename = video.id, video.filename
    session.add(row)
    session.flush()
    upload = None
    if body.upload_method == "file-no-chunk":
        upload = {"url": url_for("assets.upload", asset_id=row.id)}
    elif body.upload_method == "direct":
        row.storage_key = keys.media_key(row, row.filename)
        upload = get_storage().upload_url(row.storage_key)
    session.commit()
    return row, upload


def upload_asset(user: Caller, asset_id, upload: FileUpload) -> Asset:
    row = owned_asset(user, asset_id)
    if row.asset_type in (GENERATED_VIDEO, "video-reference"):
        raise Conflict(f"a {row.asset_type} asset takes no upload")
    receive_file(row, upload)
    return row


def request_analysis(user: Caller, asset_id) -> Asset:
    row = owned_asset(user, asset_id)
    if row.asset_type == GENERATED_VIDEO:  # its status is its render's, not an analysis'
        raise Conflict("a render's output is analysed as it finishes; it takes no analysis")
    return request_probe(row)


def delete_asset(user: Caller, asset_id) -> str:
    """Delete the asset and its own stored objects (a linked library file stays)."""
    row = owned_asset(user, asset_id)
    jobs.delete_for_assets(get_session(), [row.id])
    delete_sources(user.id, row, [row.sha256], keys.media_folder(row))
    return row.id
