"""Request and response models of the Projects, Prompts and Users API.

Response models list every field the `videojungle` client's pydantic models require;
`from_row` turns a database row into one. Query/path models are named ...Query/...Path:
`api.errors.request_part` relies on it to say where a validation error is.
"""
from __future__ import annotations

from typing import Any, Literal, Optional
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from shared.models import iso

from .media import Pieces
from .sharing import ScriptOut


class ProjectPath(BaseModel):
    project_id: UUID


class PromptPath(BaseModel):
    prompt_id: UUID


class PageQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100, description="page size, 1–100")
    page: int = Field(1, ge=1, le=1_000_000, description="1-based page number")


class AssetPageQuery(BaseModel):
    """A project's assets come whole, as the Video Jungle client reads them, unless the
    caller asks for a page."""
    limit: Optional[int] = Field(None, ge=1, le=1000,
                                 description="page size, 1–1000; absent: every asset, in one answer")
    page: int = Field(1, ge=1, le=1_000_000, description="1-based page number (with limit)")


class ProjectListQuery(PageQuery):
    active: Optional[bool] = Field(None, description="accepted for compatibility; every project is active")


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field(..., max_length=10_000)
    prompt_id: Optional[UUID | Literal[""]] = Field(None, description="a blank form field is none")
    data: str | dict[str, Any] = ""
    template_key: Optional[str] = Field(None, max_length=200)

    @field_validator("prompt_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        # Form posts send empty fields as "".
        return None if value == "" else value


class PromptCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = Field(..., max_length=100_000)
    parameters: list[str] = Field(default_factory=list, max_length=100)
    persona: str = Field("", max_length=10_000)
    name: str = Field("", max_length=200)
    task: Optional[str] = Field("", max_length=10_000)


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error but a 422: what went wrong, in words."""

    detail: str


class ValidationErrorOut(BaseModel):
    """A 422: FastAPI's shape, which the client prints."""

    detail: list[ErrorItem]


class Deleted(BaseModel):
    id: str
    deleted: bool = True


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    avatar: str
    is_verified: bool
    is_active: bool


class PromptOut(BaseModel):
    id: str
    value: str
    persona: str
    created_at: str
    parameters: list[str]
    name: str
    task: Optional[str]

    @classmethod
    def from_row(cls, prompt) -> "PromptOut":
        return cls(
            id=prompt.id, value=prompt.value, persona=prompt.persona or "",
            created_at=iso(prompt.created_at), parameters=list(prompt.parameters or []),
            name=prompt.name or "", task=prompt.task,
        )


class AssetOut(BaseModel):
    id: str
    keyname: str
    url: Optional[str]
    download_url: Optional[str]
    asset_path: Optional[str]
    asset_type: str
    created_at: str
    description: Optional[str]
    generated_description: Optional[str]
    create_parameters: Optional[dict | str]
    status: Optional[str]
    uploaded: bool
    # Extensions (the client ignores them).
    project_id: str
    progress: float
    error: Optional[str]
    warnings: list[str]
    content_type: Optional[str]
    size: Optional[int]
    duration: Optional[float]
    width: Optional[int]
    height: Optional[int]
    thumbnail_url: Optional[str]
    pieces: Optional[Pieces] = None
    finished: bool  # the status moves no more by itself: a render's end, a probe's


class UploadTarget(BaseModel):
    """Where the bytes go: a path relative to the API (multipart POST of `file`), or a
    signed link to PUT them to as they are (`direct`)."""

    url: str
    method: Optional[str] = None
    fields: Optional[dict] = None
    headers: Optional[dict] = None
    expires_in: Optional[int] = None


class UploadSlot(BaseModel):
    id: str
    upload_url: UploadTarget


class AssetCreated(RootModel[UploadSlot | AssetOut]):
    """An upload slot for `file-no-chunk` and `direct`; the linked asset for `video-reference`."""


class ProjectOut(BaseModel):
    id: str
    name: str
    description: Optional[str]
    data: Optional[str | dict[str, Any]]
    created_at: str
    owner_id: str
    asset_count: int
    assets: list[AssetOut]
    prompts: list[dict]
    scripts: list[ScriptOut]
    # Extensions.
    template_key: Optional[str] = None
    prompt_id: Optional[str] = None


class ScriptTemplateList(RootModel[list[dict]]):
    """A JSON array of script templates (Canopy has none: it has no generative models)."""


class ProjectList(RootModel[list[ProjectOut]]):
    """A JSON array of projects."""


class PromptList(RootModel[list[PromptOut]]):
    """A JSON array of prompts."""


class AssetList(RootModel[list[AssetOut]]):
    """A JSON array of assets."""
