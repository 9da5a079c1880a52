"""Models of the edit and render endpoints (the edit body itself is shared.edit.VideoEdit)."""
from __future__ import annotations

from typing import Any, Optional
from uuid import UUID

from pydantic import BaseModel, RootModel


class EditPath(BaseModel):
    project_id: UUID
    edit_id: UUID


class RenderStarted(BaseModel):
    asset_id: Optional[str]
    asset_key: Optional[str]
    edit_id: str


class EditOut(BaseModel):
    id: str
    project_id: str
    name: Optional[str]
    description: Optional[str]
    data: Any
    created_at: str
    updated_at: str
    asset_id: Optional[str]
    status: Optional[str]
    download_url: Optional[str]
    warnings: list[str]


class EditList(RootModel[list[EditOut]]):
    """A JSON array of edits."""
