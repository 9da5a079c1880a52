"""Projects: the seed's `/projects` endpoints."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..auth import current_user
from ..body import body_doc, parse_body
from ..paging import page_headers
from ..present import project_out
from ..schemas import Deleted, ProjectCreate, ProjectList, ProjectListQuery, ProjectOut, ProjectPath
from ..services import projects as service

bp = APIBlueprint("projects", __name__, url_prefix="/projects", abp_tags=[Tag(name="projects")])


@bp.get("", responses={200: ProjectList})
def list_projects(query: ProjectListQuery):
    """List the caller's projects, newest first."""
    rows, total = service.list_projects(current_user(), query.limit, query.page)
    assets = service.project_assets(rows)
    body = [project_out(p, assets[p.id]).model_dump() for p in rows]
    return body, 200, page_headers(total, query.limit, query.page)


@bp.post("", responses={201: ProjectOut}, openapi_extensions=body_doc(ProjectCreate, form=True))
def create_project():
    """Create a project from JSON or form fields."""
    project = service.create_project(current_user(), parse_body(ProjectCreate))
    return project_out(project, service.project_assets([project])[project.id]).model_dump(), 201


@bp.get("/<uuid:project_id>", responses={200: ProjectOut})
def get_project(path: ProjectPath):
    """One project with its assets, prompts and scripts."""
    project = service.owned_project(current_user(), path.project_id, whole=True)
    return project_out(project, service.project_assets([project])[project.id]).model_dump()


@bp.delete("/<uuid:project_id>", responses={200: Deleted})
def delete_project(path: ProjectPath):
    """Delete a project, its assets, edits and their stored objects."""
    deleted = service.delete_project(current_user(), path.project_id)
    return Deleted(id=deleted).model_dump()

