"""The caller's account and the (empty) script catalogue."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..auth import current_user
from ..schemas import ScriptTemplateList, UserOut

bp = APIBlueprint("users", __name__, abp_tags=[Tag(name="users")])


@bp.get("/users/me", responses={200: UserOut})
def me():
    """Who the API key belongs to."""
    return current_user().model_dump()  # a Caller is the response's UserOut


@bp.get("/scripts", responses={200: ScriptTemplateList})
def list_scripts():
    """Script templates: none, since generative scripts are not part of Canopy."""
    return []
