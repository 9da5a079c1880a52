"""Stored prompts (`/prompts`), and the generative endpoints Canopy does not offer."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from shared.errors import NotImplementedByCanopy

from ..auth import current_user
from ..schemas import Deleted, ErrorOut, PromptCreate, PromptList, PromptOut, PromptPath
from ..services import prompts as service

bp = APIBlueprint("prompts", __name__, abp_tags=[Tag(name="prompts")])

GENERATIVE = "generative models are not part of Canopy"


@bp.get("/prompts", responses={200: PromptList})
def list_prompts():
    """The caller's prompts, newest first."""
    return [PromptOut.from_row(p).model_dump() for p in service.list_prompts(current_user())]


@bp.post("/prompts", responses={201: PromptOut})
def create_prompt(body: PromptCreate):
    """Store a prompt."""
    return PromptOut.from_row(service.create_prompt(current_user(), body)).model_dump(), 201


@bp.get("/prompts/<uuid:prompt_id>", responses={200: PromptOut})
def get_prompt(path: PromptPath):
    """One prompt."""
    return PromptOut.from_row(service.owned_prompt(current_user(), path.prompt_id)).model_dump()


@bp.delete("/prompts/<uuid:prompt_id>", responses={200: Deleted})
def delete_prompt(path: PromptPath):
    """Delete a prompt (projects that named it keep existing)."""
    return Deleted(id=service.delete_prompt(current_user(), path.prompt_id)).model_dump()


@bp.post("/prompts/generate", responses={501: ErrorOut})
def generate_prompt():
    """Not offered: Canopy renders edits, it has no generative models."""
    raise NotImplementedByCanopy(GENERATIVE)


@bp.post("/projects/<project_id>/<script_id>/generate", doc_ui=False)
def generate_video():
    """Not offered: Canopy renders edits, it has no generative models."""
    raise NotImplementedByCanopy(GENERATIVE)


@bp.post("/projects/<project_id>/<script_id>/prompt", doc_ui=False)
def generate_from_prompt():
    """Not offered: Canopy renders edits, it has no generative models."""
    raise NotImplementedByCanopy(GENERATIVE)
