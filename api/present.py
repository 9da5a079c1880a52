"""Database rows → response models, with fresh signed links for stored objects."""
from __future__ import annotations

from .context import get_settings, get_storage
from shared.models import GENERATED_VIDEO, Asset, Project, VideoFile, iso
from shared.states import ASSET_FINISHED, MediaState

from .schemas import AssetOut, AssetStatus, ProjectOut, PromptOut, ScriptOut, VideoFileOut


class Links:
    """Signs time-limited links to stored objects, the store and the links' lifetime read
    once for a whole answer (a project's may sign 10,000)."""

    def __init__(self):
        self.storage = get_storage()
        self.ttl = get_settings().link_ttl_seconds

    def __call__(self, key: str | None, filename: str | None = None) -> str | None:
        if not key or self.storage is None:
            return None
        return self.storage.download_url(key, filename=filename, ttl=self.ttl)


def signed_link(key: str | None, filename: str | None = None) -> str | None:
    """A time-limited link to a stored object; an attachment when `filename` is given."""
    return Links()(key, filename)


# `media` not given: the library file is read from the ORM asset's relationship.
_LINKED = object()


def _linked(asset, media):
    return (asset.video_file if asset.video_file_id else None) if media is _LINKED else media


def asset_state(asset: Asset, media=_LINKED) -> AssetStatus:
    """Status of the asset; a video-reference asset follows the library file it links to.

    `asset` is an Asset or a row of api/services/asset_rows.py; `media`, the linked
    library file (None: none)."""
    return AssetStatus(id=asset.id, **_state(asset, _linked(asset, media)))


def _state(asset, media) -> dict:
    """asset_state's fields but the id, as plain values: asset_out validates them once, in
    its own model (a project's answer presents thousands)."""
    if media is not None:
        analyzed = media.status == MediaState.ANALYZED
        return dict(status=media.status, uploaded=analyzed, progress=1.0 if analyzed else 0.0,
                    error=media.error, pieces=None, finished=media.status in ASSET_FINISHED)
    pieces = (dict(total=asset.pieces_total, done=asset.pieces_done,
                   reused=asset.pieces_reused, copied=asset.pieces_copied)
              if asset.pieces_total else None)
    return dict(status=asset.status, uploaded=asset.uploaded, progress=asset.progress,
                error=asset.error, pieces=pieces, finished=asset.status in ASSET_FINISHED)


def asset_out(asset: Asset, media=_LINKED, links: Links | None = None) -> AssetOut:
    """The asset as answered (`asset`, `media`: as asset_state takes them); `links`
    signs for a whole answer."""
    media = _linked(asset, media)
    links = links or Links()
    state = _state(asset, media)
    stored_in = media if media is not None else asset
    stored = stored_in.storage_key if state["uploaded"] else None
    return AssetOut(
        id=asset.id,
        keyname=asset.keyname,
        url=links(stored),
        download_url=links(stored, asset.filename or asset.keyname),
        asset_path=stored,
        asset_type=asset.asset_type,
        created_at=iso(asset.created_at),
        description=asset.description,
        generated_description=asset.generated_description,
        create_parameters=asset.create_parameters,
        status=state["status"],
        uploaded=state["uploaded"],
        project_id=asset.project_id,
        progress=state["progress"],
        error=state["error"],
        warnings=list(asset.warnings or []),
        content_type=stored_in.content_type,
        size=stored_in.size,
        duration=stored_in.duration,
        width=stored_in.width,
        height=stored_in.height,
        thumbnail_url=links(stored_in.thumbnail_key),
        pieces=state["pieces"],
        finished=state["finished"],
    )


def assets_out(rows) -> list[AssetOut]:
    """Rows of api/services/asset_rows.py as answered, signed by one Links."""
    links = Links()
    return [asset_out(asset, media, links) for asset, media in rows]


def project_out(project: Project, assets: list) -> ProjectOut:
    """`assets`: the project's rows of api/services/asset_rows.py."""
    prompts = [PromptOut.from_row(project.prompt).model_dump()] if project.prompt else []
    return ProjectOut(
        id=project.id,
        name=project.name,
        description=project.description,
        data=project.data,
        created_at=iso(project.created_at),
        owner_id=project.owner_id,
        # Counted, not stored: deleting a render can never leave it wrong.
        asset_count=sum(1 for a, _ in assets if a.asset_type == GENERATED_VIDEO and a.uploaded),
        assets=assets_out(assets),
        prompts=prompts,
        scripts=[ScriptOut.from_row(s) for s in project.scripts],
        template_key=project.template_key,
        prompt_id=project.prompt_id,
    )


def video_file_out(row: VideoFile) -> VideoFileOut:
    stored = row.storage_key if row.status == MediaState.ANALYZED else None
    thumbnail = signed_link(row.thumbnail_key)
    return VideoFileOut(
        id=row.id, filename=row.filename, name=row.name, description=row.description,
        thumbnail=thumbnail, duration=row.duration, fps=row.fps, owner_id=row.owner_id,
        size=row.size, hash=row.sha256, created_at=iso(row.created_at),
        recorded_at=iso(row.recorded_at), key=row.storage_key or "",
        analysis=list(row.analysis or []), url=signed_link(stored),
        current_status=row.status, download_url=signed_link(stored, row.filename),
        thumbnail_url=thumbnail, status=row.status, error=row.error, width=row.width,
        height=row.height, rotation=row.rotation, video_codec=row.video_codec,
        audio_codec=row.audio_codec, sample_rate=row.sample_rate, channels=row.channels,
        media_kind=row.media_kind, content_type=row.content_type, tags=list(row.tags or []),
    )
