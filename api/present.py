"""Database rows → response models, with fresh signed links for stored objects."""
from __future__ import annotations

from .context import get_settings, get_storage
from shared.models import GENERATED_VIDEO, Asset, Project, VideoFile, iso
from shared.states import ASSET_FINISHED, MediaState

from .schemas import AssetOut, AssetStatus, Pieces, ProjectOut, PromptOut, ScriptOut, VideoFileOut


def signed_link(key: str | None, filename: str | None = None) -> str | None:
    """A time-limited link to a stored object; an attachment when `filename` is given."""
    storage = get_storage()
    if not key or storage is None:
        return None
    return storage.download_url(key, filename=filename, ttl=get_settings().link_ttl_seconds)


def asset_state(asset: Asset) -> AssetStatus:
    """Status of the asset; a video-reference asset follows the library file it links to."""
    media = asset.video_file if asset.video_file_id and asset.video_file else None
    if media is not None:
        analyzed = media.status == MediaState.ANALYZED
        return AssetStatus(id=asset.id, status=media.status, uploaded=analyzed,
                           progress=1.0 if analyzed else 0.0, error=media.error,
                           finished=media.status in ASSET_FINISHED)
    pieces = (Pieces(total=asset.pieces_total, done=asset.pieces_done,
                     reused=asset.pieces_reused, copied=asset.pieces_copied)
              if asset.pieces_total else None)
    return AssetStatus(id=asset.id, status=asset.status, uploaded=asset.uploaded,
                       progress=asset.progress, error=asset.error, pieces=pieces,
                       finished=asset.status in ASSET_FINISHED)


def asset_out(asset: Asset) -> AssetOut:
    media = asset.video_file if asset.video_file_id and asset.video_file else asset
    state = asset_state(asset)
    stored = media.storage_key if state.uploaded else None
    return AssetOut(
        id=asset.id,
        keyname=asset.keyname,
        url=signed_link(stored),
        download_url=signed_link(stored, asset.filename or asset.keyname),
        asset_path=stored,
        asset_type=asset.asset_type,
        created_at=iso(asset.created_at),
        description=asset.description,
        generated_description=asset.generated_description,
        create_parameters=asset.create_parameters,
        status=state.status,
        uploaded=state.uploaded,
        project_id=asset.project_id,
        progress=state.progress,
        error=state.error,
        warnings=list(asset.warnings or []),
        content_type=media.content_type,
        size=media.size,
        duration=media.duration,
        width=media.width,
        height=media.height,
        thumbnail_url=signed_link(media.thumbnail_key),
        pieces=state.pieces,
        finished=state.finished,
    )


def project_out(project: Project, with_assets: bool = True) -> ProjectOut:
    prompts = [PromptOut.from_row(project.prompt).model_dump()] if project.prompt else []
    return ProjectOut(
        id=project.id,
        name=project.name,
        description=project.description,
        data=project.data,
        created_at=iso(project.created_at),
        owner_id=project.owner_id,
        # Counted, not stored: deleting a render can never leave it wrong.
        asset_count=sum(1 for a in project.assets if a.asset_type == GENERATED_VIDEO and a.uploaded),
        assets=[asset_out(a) for a in project.assets] if with_assets else [],
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
