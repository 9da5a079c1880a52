"""Database rows → response models, with fresh signed links for stored objects."""
from __future__ import annotations

from .context import get_settings, get_storage
from .schemas import AssetOut, ProjectOut, PromptOut
from shared.models import Asset, Project, iso


def signed_link(key: str | None, filename: str | None = None) -> str | None:
    """A time-limited link to a stored object; an attachment when `filename` is given."""
    storage = get_storage()
    if not key or storage is None:
        return None
    return storage.download_url(key, filename=filename, ttl=get_settings().link_ttl_seconds)


def asset_out(asset: Asset) -> AssetOut:
    # A video-reference asset shows the library file it links to.
    media = asset.video_file if asset.asset_type == "video-reference" and asset.video_file else asset
    stored = media.storage_key if asset.uploaded else None
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
        status=asset.status,
        uploaded=asset.uploaded,
        project_id=asset.project_id,
        progress=asset.progress,
        error=asset.error,
        warnings=list(asset.warnings or []),
        content_type=media.content_type,
        size=media.size,
        duration=media.duration,
        width=media.width,
        height=media.height,
        thumbnail_url=signed_link(media.thumbnail_key),
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
        asset_count=project.asset_count,
        assets=[asset_out(a) for a in project.assets] if with_assets else [],
        prompts=prompts,
        scripts=[],
        template_key=project.template_key,
        prompt_id=project.prompt_id,
    )
