"""Stored prompts, so that a project can name one with `prompt_id`."""
from __future__ import annotations

from sqlalchemy import select

from shared.errors import NotFound
from shared.models import Prompt

from ..auth import Caller
from ..context import get_session
from ..schemas import PromptCreate


def owned_prompt(user: Caller, prompt_id) -> Prompt:
    prompt = get_session().get(Prompt, str(prompt_id))
    if prompt is None or prompt.owner_id != user.id:
        raise NotFound("Prompt not found")
    return prompt


def list_prompts(user: Caller) -> list[Prompt]:
    return list(
        get_session().execute(
            select(Prompt).where(Prompt.owner_id == user.id).order_by(Prompt.created_at.desc())
        ).scalars()
    )


def create_prompt(user: Caller, body: PromptCreate) -> Prompt:
    prompt = Prompt(owner_id=user.id, **body.model_dump())
    session = get_session()
    session.add(prompt)
    session.commit()
    return prompt


def delete_prompt(user: Caller, prompt_id) -> str:
    prompt = owned_prompt(user, prompt_id)
    session = get_session()
    session.delete(prompt)
    session.commit()
    return prompt.id
