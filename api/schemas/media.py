"""Request and response models of the video-file and asset endpoints."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Optional
from uuid import UUID

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationInfo,
                      field_validator)

from shared import patterns
from shared.edit_fields import Number
from shared.models import GENERATED_VIDEO

UploadMethod = Literal["file-no-chunk", "direct", "url"]


def _whole_number(value):
    # JSON Schema's integer is any number without a fraction, 43.0 too; not true or "43".
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ValueError("must be a whole number")
    return int(value)


Integer = Annotated[int, BeforeValidator(_whole_number)]


def _by_upload_method(schema: dict) -> None:
    # The filename is a URL exactly when upload_method is "url" (api/services/video_files.py
    # fetches it; whether its host may be fetched is known only then).
    schema["oneOf"] = [
        {"title": "Upload", "properties": {"upload_method": {"enum": ["file-no-chunk", "direct"]}}},
        {"title": "Fetch", "required": ["upload_method"],
         "properties": {"upload_method": {"const": "url"},
                        "filename": {"pattern": patterns.HTTP_URL}}},
    ]


class VideoFilePath(BaseModel):
    video_file_id: UUID


class VideoFileQuery(BaseModel):
    sha256: Optional[str] = Field(None, pattern=r"^[0-9a-fA-F]{64}$",
                                  description="(ext) only files with this content hash (hex)")


class AssetPath(BaseModel):
    asset_id: UUID


class ProjectAssetPath(BaseModel):
    project_id: UUID


class VideoFileCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_by_upload_method)

    name: str = Field(..., min_length=1, max_length=200)
    filename: str = Field(..., min_length=1, max_length=2000, description="a file name, or the URL to fetch")
    upload_method: UploadMethod = "file-no-chunk"
    description: Optional[str] = Field(None, max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=50)


class AssetCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    upload_method: Literal["file-no-chunk", "direct", "video-reference"] = "file-no-chunk"
    asset_type: str = Field("user", min_length=1, max_length=50)
    keyname: str = Field(..., min_length=1, max_length=500)
    description: Optional[str] = Field("", max_length=10_000)

    @field_validator("asset_type")
    @classmethod
    def _not_made_by_canopy(cls, value: str, info: ValidationInfo) -> str:
        # Only a render makes a generated video, only a link a video-reference: an asset of
        # either type made here would wait for bytes no one can send, queued for ever.
        if value == GENERATED_VIDEO:
            raise ValueError(f"{GENERATED_VIDEO} assets are made by renders (create-edit)")
        if value == "video-reference" and info.data.get("upload_method") != "video-reference":
            raise ValueError("video-reference assets are made with upload_method video-reference")
        return value


def _iso_text(value):
    # An ISO 8601 string, as the document says: pydantic's lax mode also takes a number.
    if not isinstance(value, (str, datetime)):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]


class DurationFilter(BaseModel):
    min: Number = 0
    max: Number = 1e12


class SearchFilters(BaseModel):
    duration: Optional[DurationFilter] = None
    created_after: Optional[IsoDateTime] = None
    created_before: Optional[IsoDateTime] = None
    tags: Optional[list[str]] = None
    min_relevance: Optional[Number] = None


class VideoSearch(BaseModel):
    """The `videojungle` client's VideoSearch body."""

    model_config = ConfigDict(extra="ignore")

    query: Optional[str] = Field(None, max_length=1000)
    limit: Integer = Field(10, ge=1, le=100)
    project_id: Optional[UUID] = None
    filters: Optional[SearchFilters] = None
    include_segments: bool = Field(True, strict=True)
    include_related: bool = Field(False, strict=True)
    query_audio: Optional[str] = None
    query_img: Optional[str] = None


class VideoFileOut(BaseModel):
    id: str
    filename: str
    name: str
    description: Optional[str]
    thumbnail: Optional[str]
    duration: Optional[float]
    fps: Optional[float]
    owner_id: str
    size: Optional[int]
    hash: Optional[str]
    created_at: str
    recorded_at: Optional[str]
    key: str
    analysis: list[dict]
    url: Optional[str]
    current_status: Optional[str]
    download_url: Optional[str]
    thumbnail_url: Optional[str]
    has_redirect: bool = False
    public_link: Optional[dict] = None
    # Extensions.
    status: str
    error: Optional[str]
    width: Optional[int]
    height: Optional[int]
    rotation: Optional[int]
    video_codec: Optional[str]
    audio_codec: Optional[str]
    sample_rate: Optional[int]
    channels: Optional[int]
    media_kind: Optional[str]
    content_type: Optional[str]
    tags: list[str]


class Pieces(BaseModel):
    """(ext) A render cut into pieces: how many, how many are rendered and stored, and how
    many of those were reused from the owner's render cache instead of rendered; and how
    many frames the rendered ones copied from their sources instead of encoding them (a
    render in one piece that copied frames reports itself as one piece)."""

    total: int
    done: int
    reused: int = 0
    copied: int = 0


class AssetStatus(BaseModel):
    id: str
    status: str
    uploaded: bool
    progress: float
    error: Optional[str]
    finished: bool  # (ext) the status moves no more by itself: a render's end, a probe's
    pieces: Optional[Pieces] = None  # (ext) null for a render in one piece


class EventsHeader(BaseModel):
    """The header an event stream's client sends back when it reconnects."""

    last_event_id: Optional[str] = Field(
        None, alias="Last-Event-ID",
        description="the id of the last event the client had: only newer events are sent")


class AnalysisOut(BaseModel):
    """A video file's probe: its status and findings."""

    id: str
    status: str
    error: Optional[str] = None
    analysis: list[dict]


class VideoFileList(RootModel[list[VideoFileOut]]):
    """A JSON array of video files."""
