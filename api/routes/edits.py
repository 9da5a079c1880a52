"""Edits and renders: `/projects/{id}/create-edit`, `/projects/{id}/edits...`, cancel."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from shared import keys
from shared.edit import VideoEdit
from shared.models import iso

from ..auth import current_user
from ..body import body_doc, json_payload
from ..present import asset_out, signed_link
from ..schemas import AssetOut, AssetPath, ProjectPath
from ..schemas.edits import EditList, EditOut, EditPath, RenderStarted
from ..services import edits as service

bp = APIBlueprint("edits", __name__, abp_tags=[Tag(name="edits")])


def started(edit, asset) -> dict:
    key = keys.client_asset_key(asset) if asset else None
    return RenderStarted(asset_id=asset.id if asset else None, asset_key=key,
                         edit_id=edit.id).model_dump()


def edit_out(edit, state: service.RenderState | None = None) -> dict:
    status, finished = state or service.render_states([edit])[edit.id]
    return EditOut(
        id=edit.id, project_id=edit.project_id, name=edit.name, description=edit.description,
        data=edit.data, created_at=iso(edit.created_at), updated_at=iso(edit.updated_at),
        asset_id=edit.asset_id, status=status,
        download_url=signed_link(finished.storage_key, finished.filename) if finished else None,
        warnings=list(edit.warnings or []),
    ).model_dump()


@bp.post("/projects/<uuid:project_id>/create-edit", responses={200: RenderStarted},
         openapi_extensions=body_doc(VideoEdit))
def create_edit(path: ProjectPath):
    """Store an edit and, unless `skip_rendering`, queue its render."""
    edit, asset = service.create_edit(current_user(), path.project_id, json_payload())
    return started(edit, asset)


@bp.get("/projects/<uuid:project_id>/edits", responses={200: EditList})
def list_edits(path: ProjectPath):
    """The project's edits, newest first."""
    edits = service.list_edits(current_user(), path.project_id)
    states = service.render_states(edits)
    return [edit_out(e, states[e.id]) for e in edits]


@bp.get("/projects/<uuid:project_id>/edits/<uuid:edit_id>", responses={200: EditOut})
def get_edit(path: EditPath):
    """One edit, with the status of its latest render and the link of its latest finished one
    (for its owner and its collaborators)."""
    return edit_out(service.shared_edit(current_user(), path.project_id, path.edit_id))


@bp.put("/projects/<uuid:project_id>/edits/<uuid:edit_id>", responses={200: EditOut},
        openapi_extensions=body_doc(VideoEdit))
def update_edit(path: EditPath):
    """Replace the edit JSON (validated as on create)."""
    return edit_out(service.update_edit(current_user(), path.project_id, path.edit_id,
                                        json_payload()))


@bp.post("/projects/<uuid:project_id>/edits/<uuid:edit_id>/render", responses={200: RenderStarted})
def render_edit(path: EditPath):
    """Queue a new render of the stored edit (its owner's, also when a collaborator asks)."""
    edit, asset = service.render_edit(current_user(), path.project_id, path.edit_id)
    return started(edit, asset)


@bp.post("/assets/<uuid:asset_id>/cancel", responses={200: AssetOut})
def cancel(path: AssetPath):
    """Cancel a render that has not ended (a running one stops within a second, an uploading
    one is never finalized); 409 once it ended uploaded or failed."""
    return asset_out(service.cancel_render(current_user(), path.asset_id)).model_dump()
