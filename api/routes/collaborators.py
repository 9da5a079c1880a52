"""Collaborators of an edit: `/projects/{p}/edits/{e}/collaborators[/{user}]`."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from shared.models import iso

from ..auth import current_user
from ..schemas import (CollaboratorAdd, CollaboratorList, CollaboratorOut, CollaboratorPath,
                       CollaboratorRemoved, ErrorOut)
from ..schemas.edits import EditPath
from ..services import collaborators as service

bp = APIBlueprint("collaborators", __name__, abp_tags=[Tag(name="collaborators")])


def collaborator_out(row, user) -> dict:
    return CollaboratorOut(user_id=user.id, email=user.email, name=user.name or None,
                           added_at=iso(row.added_at), added_by=row.added_by,
                           edit_id=row.edit_id).model_dump()


@bp.post("/projects/<uuid:project_id>/edits/<uuid:edit_id>/collaborators",
         responses={201: CollaboratorOut, 400: ErrorOut, 404: ErrorOut})
def add_collaborator(path: EditPath, body: CollaboratorAdd):
    """Share the edit with another Canopy user, by e-mail (the owner only). The collaborator
    may read and render it (renders are the owner's) and read its renders."""
    row, user = service.add(current_user(), path.project_id, path.edit_id,
                            body.collaborator_email)
    return collaborator_out(row, user), 201


@bp.get("/projects/<uuid:project_id>/edits/<uuid:edit_id>/collaborators",
        responses={200: CollaboratorList})
def list_collaborators(path: EditPath):
    """The edit's collaborators (for its owner and its collaborators)."""
    rows = service.listed(current_user(), path.project_id, path.edit_id)
    return {"collaborators": [collaborator_out(row, user) for row, user in rows]}


@bp.delete("/projects/<uuid:project_id>/edits/<uuid:edit_id>/collaborators/<uuid:user_id>",
           responses={200: CollaboratorRemoved})
def remove_collaborator(path: CollaboratorPath):
    """Stop sharing the edit with that user (the owner only); it holds at once."""
    removed = service.remove(current_user(), path.project_id, path.edit_id, path.user_id)
    return CollaboratorRemoved(id=removed, edit_id=str(path.edit_id)).model_dump()
