"""Projects: list, create, read, delete — always within the caller's own projects."""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from shared import jobs, keys, render_cache
from shared.errors import Unprocessable
from shared.models import Asset, Project, Prompt

from ..auth import Caller
from ..context import get_session, get_storage
from ..schemas import ProjectCreate
from .asset_rows import assets_of_projects
from .owned import own_row, owned_row
from .waiting import settle_renders

log = logging.getLogger(__name__)


# What a project's response shows besides its assets (project_assets), loaded in a fixed
# number of queries however many projects.
WHOLE = (selectinload(Project.prompt), selectinload(Project.scripts))


def owned_project(user: Caller, project_id, whole: bool = False) -> Project:
    """The caller's project, or 404. `whole` loads what the response shows; ownership
    checks need only the row."""
    return owned_row(Project, user, project_id, "Project", options=WHOLE if whole else ())


def project_assets(projects) -> dict[str, list[tuple]]:
    """Each project's assets as api/present.py `project_out` takes them, in one query."""
    return assets_of_projects(get_session(), [project.id for project in projects])


def list_projects(user: Caller, limit: int, page: int) -> tuple[list[Project], int]:
    session = get_session()
    owned = Project.owner_id == user.id
    total = session.execute(select(func.count()).select_from(Project).where(owned)).scalar_one()
    rows = session.execute(
        select(Project)
        .where(owned)
        .order_by(Project.created_at.desc(), Project.id.desc())
        .limit(limit)
        .offset((page - 1) * limit)
        .options(*WHOLE)
    ).scalars().all()
    return list(rows), total


def create_project(user: Caller, body: ProjectCreate) -> Project:
    session = get_session()
    if body.prompt_id is not None:
        if own_row(Prompt, user, body.prompt_id) is None:
            raise Unprocessable.field(("body", "prompt_id"), "unknown prompt_id")
    project = Project(
        owner_id=user.id,
        name=body.name,
        description=body.description,
        data=body.data,
        template_key=body.template_key,
        prompt_id=str(body.prompt_id) if body.prompt_id else None,
    )
    session.add(project)
    session.commit()
    return owned_project(user, project.id, whole=True)


def delete_project(user: Caller, project_id) -> str:
    """Deletes the project's rows (assets, edits, jobs cascade) and its stored objects."""
    project = owned_project(user, project_id)
    session = get_session()
    contents = session.execute(select(Asset.sha256).distinct()
                               .where(Asset.project_id == project.id)).scalars().all()
    jobs.delete_for_assets(session, select(Asset.id).where(Asset.project_id == project.id))
    delete_sources(user.id, project, contents, keys.project_folder(project))
    return project.id


def delete_sources(owner_id: str, row, contents, folder: str) -> None:
    """Delete `row` (a project, an asset or a library file), whose sources hold `contents`
    (sha256s), and its stored objects under `folder`. The owner's render-cache entries made
    from a content no live source of theirs holds any more go in the same transaction; once
    it commits, renders waiting for one of those sources fail, naming it.

    Objects go after the commit, so no transaction (and no row lock) waits on the store
    however many there are. The delete has happened once it commits: a store that fails
    then leaves objects that name no row, which the orphan sweep (worker/orphans.py)
    removes, and the caller is told the delete succeeded."""
    session = get_session()
    session.delete(row)
    session.flush()
    cached = render_cache.forget_content(session, owner_id, contents)
    session.commit()
    settle_renders(owner_id)
    storage = get_storage()
    if storage is None:
        return
    try:
        for key in cached:
            storage.delete(key)
        storage.delete_prefix(folder)
    except Exception:
        log.exception("could not delete the objects under %s; the orphan sweep will", folder)
