"""Where stored objects live: the one module that knows the storage-key layout.

    {owner}/video-files/{video file id}/...          a library file's uploads and thumbnails
    {owner}/{project id}/{asset id}/...              an asset's uploads and thumbnails
    {owner}/{project id}/{asset id}/attempt-{n}/     what render attempt n stores
    {owner}/{project id}/{asset id}/pieces/          a render's stored pieces
    {owner}/render-cache/{entry key}/{nonce}.{ext}   a render-cache entry's piece or output

A row owns its folder: deleting the row deletes the folder (a prefix), so nothing it stored
stays behind, and a render attempt's folder is its own, so attempts never collide.
"""
from __future__ import annotations

from .models import Asset, Project, RenderCacheEntry, VideoFile, new_id

# Beside the upload. Stored names never start with a dot (`clean_filename`), so this key
# can never be the upload's own (an upload named thumbnail.jpg was overwritten by its thumbnail).
THUMBNAIL = ".thumbnail.jpg"


def project_folder(project: Project) -> str:
    return f"{project.owner_id}/{project.id}/"


def media_folder(row: Asset | VideoFile) -> str:
    """The folder of everything a video file or an asset stores (renders included)."""
    if isinstance(row, VideoFile):
        return f"{row.owner_id}/video-files/{row.id}/"
    return f"{row.owner_id}/{row.project_id}/{row.id}/"


def media_key(row: Asset | VideoFile, filename: str) -> str:
    """Where a `direct` or `url` upload of `row` is stored."""
    return media_folder(row) + filename


def upload_key(row: Asset | VideoFile, filename: str) -> str:
    """A fresh key for a new upload of `row`: a refused one never touches the stored object."""
    return f"{media_folder(row)}{new_id()[:8]}/{filename}"


def thumbnail_key(key: str) -> str:
    """The thumbnail of the object at `key`, beside it."""
    return key.rsplit("/", 1)[0] + "/" + THUMBNAIL


def attempt_folder(asset: Asset, attempt: int) -> str:
    """Where render attempt `attempt` of the generated asset stores its output."""
    return f"{media_folder(asset)}attempt-{attempt}/"


def pieces_folder(asset: Asset) -> str:
    """Where the pieces of a render in pieces are stored until the join (deleted after it)."""
    return f"{media_folder(asset)}pieces/"


def piece_key(asset: Asset, index: int, attempt: int, ext: str = "mp4") -> str:
    """Piece `index` as its attempt `attempt` stored it: attempts never collide."""
    return f"{pieces_folder(asset)}{index:04d}-attempt-{attempt}.{ext}"


def cache_object_key(owner_id: str, entry_key: str, ext: str = "mp4") -> str:
    """A fresh key for a render-cache entry's piece or output: a refreshed entry never
    overwrites the object a render may be reading."""
    return f"{owner_id}/{CACHE_FOLDER}/{entry_key}/{new_id()[:8]}.{ext}"


CACHE_FOLDER = "render-cache"
OwningRow = tuple[type[Asset] | type[VideoFile] | type[RenderCacheEntry], str, str]


def owning_row(key: str) -> OwningRow | None:
    """(model, row id, owner id) of the row whose folder holds `key` (a cache entry's id is
    its key); None for a key outside every row's folder (the layout above, read backwards)."""
    parts = key.split("/")
    if len(parts) < 4:
        return None
    model = {"video-files": VideoFile, CACHE_FOLDER: RenderCacheEntry}.get(parts[1], Asset)
    return model, parts[2], parts[0]


def client_asset_key(asset: Asset) -> str:
    """The `asset_key` a render's answer names (the client's view: no owner)."""
    return f"{asset.project_id}/{asset.id}/{asset.filename}"
