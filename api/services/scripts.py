"""Stored scripts of a project: created, read, listed and deleted by the project's owner."""
from __future__ import annotations

from sqlalchemy import func, select

from shared.errors import Conflict, NotFound
from shared.models import Script

from ..auth import Caller
from ..context import get_session
from ..schemas import ScriptCreate
from .owned import newest_first, own_row
from .projects import owned_project

MAX_SCRIPTS = 1000  # per project; each is at most a request body (1 MiB)


def owned_script(user: Caller, project_id, script_id) -> Script:
    script = own_row(Script, user, script_id)
    if script is None or script.project_id != str(project_id):
        raise NotFound("Script not found")
    return script


def list_scripts(user: Caller, project_id) -> list[Script]:
    return newest_first(Script, project_id=owned_project(user, project_id).id)


def create_script(user: Caller, project_id, body: ScriptCreate) -> Script:
    project = owned_project(user, project_id)
    session = get_session()
    stored = session.execute(select(func.count()).select_from(Script)
                             .where(Script.project_id == project.id)).scalar_one()
    if stored >= MAX_SCRIPTS:
        raise Conflict(f"A project holds at most {MAX_SCRIPTS} scripts: delete one first")
    script = Script(owner_id=user.id, project_id=project.id, name=body.name, value=body.data,
                    inputs=body.inputs)
    session.add(script)
    session.commit()
    return script


def delete_script(user: Caller, project_id, script_id) -> str:
    script = owned_script(user, project_id, script_id)
    session = get_session()
    session.delete(script)
    session.commit()
    return script.id
