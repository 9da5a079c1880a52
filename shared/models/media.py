"""Stored media: video files (the library) and project assets (uploads and renders)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer,
                        String, Text, literal_column)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from ..states import MediaState
from .base import Base, Reason, created_column, id_column, owner_column, utcnow


# The asset type of a render's output.
GENERATED_VIDEO = "generated_video"


class ProbedMedia:
    """What the media probe learns about a stored file; shared by VideoFile and Asset."""

    storage_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # video | image | audio, decided by the probe from the content, not the extension.
    media_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rotation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    video_codec: Mapped[str | None] = mapped_column(String(50), nullable=True)
    audio_codec: Mapped[str | None] = mapped_column(String(50), nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A video's keyframes, as the probe found them (source times, "n/d" seconds): where the
    # piece plan cuts its long clips (worker/render/piece_plan.py).
    keyframes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=MediaState.WAITING, nullable=False)
    error: Mapped[str | None] = mapped_column(Reason, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @declared_attr
    def revision(cls) -> Mapped[int]:
        """Raised by the database on every UPDATE of the row (ORM flushes and bulk updates
        alike), so it orders the row's states whichever process wrote them: the ids of
        status events."""
        return mapped_column(Integer, default=0, server_default="0", nullable=False,
                             onupdate=literal_column(f"{cls.__tablename__}.revision", Integer) + 1)


class VideoFile(ProbedMedia, Base):
    __tablename__ = "video_files"
    # Clients look their files up by content (`GET /video-file?sha256=`) before uploading.
    __table_args__ = (Index("ix_video_files_owner_sha256", "owner_id", "sha256"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    filename: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    upload_method: Mapped[str] = mapped_column(String(20), default="file-no-chunk")
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    analysis: Mapped[list[dict]] = mapped_column(JSON, default=list, nullable=False)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = created_column()


class Asset(ProbedMedia, Base):
    __tablename__ = "assets"

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    keyname: Mapped[str] = mapped_column(String(500), nullable=False)
    # user | video-reference | generated_video | ...
    asset_type: Mapped[str] = mapped_column(String(50), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    generated_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    create_parameters: Mapped[Any] = mapped_column(JSON, nullable=True)
    uploaded: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    progress: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    # The download's file name (a render's `video_output_filename`, an upload's own name).
    filename: Mapped[str | None] = mapped_column(String(500), nullable=True)
    video_file_id: Mapped[str | None] = mapped_column(
        ForeignKey("video_files.id", ondelete="SET NULL"), nullable=True
    )
    edit_id: Mapped[str | None] = mapped_column(
        ForeignKey("edits.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    # A render cut into pieces mirrors their count here (as it mirrors its job's state and
    # progress); None for a render in one piece (but one that copied frames: 1) and uploads.
    pieces_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pieces_done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Of those done, how many were taken from the owner's render cache, not rendered.
    pieces_reused: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                               nullable=False)
    # The frames its stored pieces copied from their sources instead of encoding them.
    pieces_copied: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                               nullable=False)
    created_at: Mapped[datetime] = created_column()

    project: Mapped["Project"] = relationship(back_populates="assets")  # noqa: F821
    video_file: Mapped[VideoFile | None] = relationship()


# A stored file's table, as the probe task's message names it, and its model. (Not the
# file's `media_kind`, which says what the probe found it to be.)
FILE_TABLES: dict[str, type[Asset] | type[VideoFile]] = {"asset": Asset, "video_file": VideoFile}


def file_table(row: Asset | VideoFile) -> str:
    return "video_file" if isinstance(row, VideoFile) else "asset"
