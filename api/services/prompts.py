"""Stored prompts, so that a project can name one with `prompt_id`."""
from __future__ import annotations

from shared.models import Prompt

from ..auth import Caller
from ..context import get_session
from ..schemas import PromptCreate
from .owned import newest_first, owned_row


def owned_prompt(user: Caller, prompt_id) -> Prompt:
    return owned_row(Prompt, user, prompt_id, "Prompt")


def list_prompts(user: Caller) -> list[Prompt]:
    return newest_first(Prompt, owner_id=user.id)


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
