"""Models of stored scripts and of edit collaborators (the client's `Script` and
`Collaborator`)."""
from __future__ import annotations

from typing import Any, Optional
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from shared.models import iso

MAX_INPUTS = 100


class ScriptPath(BaseModel):
    project_id: UUID
    script_id: UUID


class ScriptCreate(BaseModel):
    """What `scripts.create` sends: `data` is stored as the script's `value`. `inputs` is an
    object in the client's type hint but a list of objects in its `Script` model: an object
    is stored as the list's one element (an empty one as no element), a list as it is."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(..., min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)
    inputs: Optional[dict[str, Any] | list[dict[str, Any]]] = None

    @field_validator("inputs", mode="after")
    @classmethod
    def _as_list(cls, value) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            value = [value] if value else []
        value = value or []
        if len(value) > MAX_INPUTS:
            raise ValueError(f"at most {MAX_INPUTS} inputs")
        return value


class ScriptOut(BaseModel):
    id: str
    project_id: str
    value: dict[str, Any]
    inputs: list[dict[str, Any]]
    name: str
    created_at: str
    key: str
    manuscript: str

    @classmethod
    def from_row(cls, script) -> "ScriptOut":
        return cls(id=script.id, project_id=script.project_id, value=dict(script.value or {}),
                   inputs=list(script.inputs or []), name=script.name,
                   created_at=iso(script.created_at), key=script.key or "",
                   manuscript=script.manuscript or "")


class ScriptList(RootModel[list[ScriptOut]]):
    """A JSON array of scripts."""


class CollaboratorPath(BaseModel):
    project_id: UUID
    edit_id: UUID
    user_id: UUID


class CollaboratorAdd(BaseModel):
    model_config = ConfigDict(extra="ignore")

    collaborator_email: str = Field(..., min_length=3, max_length=320)


class CollaboratorOut(BaseModel):
    user_id: str
    email: str
    name: Optional[str]
    added_at: Optional[str]
    added_by: Optional[str]
    # Extension.
    edit_id: str


class CollaboratorList(BaseModel):
    collaborators: list[CollaboratorOut]


class CollaboratorRemoved(BaseModel):
    id: str  # the user's
    edit_id: str
    deleted: bool = True
