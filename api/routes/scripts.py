"""Stored scripts: `/scripts/{project}/scripts`, `/scripts/{project}/{script}`, and a
project's list. Generating a video from one stays a 501 (routes/prompts.py)."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..auth import current_user
from ..schemas import Deleted, ErrorOut, ProjectPath, ScriptCreate, ScriptList, ScriptOut, ScriptPath
from ..services import scripts as service

bp = APIBlueprint("scripts", __name__, abp_tags=[Tag(name="scripts")])


@bp.post("/scripts/<uuid:project_id>/scripts", responses={201: ScriptOut, 409: ErrorOut})
def create_script(path: ProjectPath, body: ScriptCreate):
    """Store a script in a project (`data` becomes its `value`; an `inputs` object becomes
    the one element of its `inputs` list); 409 when the project holds 1000 already."""
    script = service.create_script(current_user(), path.project_id, body)
    return ScriptOut.from_row(script).model_dump(), 201


@bp.get("/scripts/<uuid:project_id>/<uuid:script_id>", responses={200: ScriptOut})
def get_script(path: ScriptPath):
    """One script."""
    return ScriptOut.from_row(service.owned_script(current_user(), path.project_id,
                                                   path.script_id)).model_dump()


@bp.delete("/scripts/<uuid:project_id>/<uuid:script_id>", responses={200: Deleted})
def delete_script(path: ScriptPath):
    """Delete a script."""
    return Deleted(id=service.delete_script(current_user(), path.project_id,
                                            path.script_id)).model_dump()


@bp.get("/projects/<uuid:project_id>/scripts", responses={200: ScriptList})
def list_project_scripts(path: ProjectPath):
    """The project's scripts, newest first."""
    return [ScriptOut.from_row(s).model_dump()
            for s in service.list_scripts(current_user(), path.project_id)]
