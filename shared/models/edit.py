"""Edits (the stored edit JSON), render jobs (one per render attempt chain) and the pieces
of a render cut into pieces."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, ForeignKeyConstraint,
                        Index, Integer, String, Text)
from sqlalchemy import false
from sqlalchemy.orm import Mapped, mapped_column

from ..states import JobState, PieceState
from .base import Base, Reason, created_column, id_column, owner_column, utcnow


class Edit(Base):
    __tablename__ = "edits"

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    # The latest render's asset.
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class EditCollaborator(Base):
    """A user the edit's owner shared it with: they may read it, render it (the render is the
    owner's) and read its renders; nothing else of the owner's."""

    __tablename__ = "edit_collaborators"

    edit_id: Mapped[str] = mapped_column(
        ForeignKey("edits.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    added_at: Mapped[datetime] = created_column()


class RenderJob(Base):
    __tablename__ = "render_jobs"
    # The farm page's recent failures, newest first, without reading every failed job.
    __table_args__ = (Index("ix_render_jobs_state_updated_at", "state", "updated_at"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), index=True, unique=True
    )
    edit_id: Mapped[str | None] = mapped_column(
        ForeignKey("edits.id", ondelete="SET NULL"), nullable=True
    )
    # The edit as it was when the render was asked for (later PUTs do not change it).
    edit_data: Mapped[Any] = mapped_column(JSON, nullable=False)
    queue: Mapped[str] = mapped_column(String(50), default="render.cpu", nullable=False)
    # A JobState (shared/states.py).
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED, nullable=False, index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    error: Mapped[str | None] = mapped_column(Reason, nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # last send
    # When it was created or last requeued: its queue timeout counts from here.
    queued_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow, nullable=True)
    # The piece plan, written once by the first attempt: frames per piece and in all.
    # None: not planned yet, or rendered in one piece (no RenderPiece rows).
    piece_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frame_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The first claim: the end of the time queued, the start of the render's wall time.
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # {"timeline": the laid-out timeline, "warnings": [...]}: what every piece renders from.
    plan: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RenderPiece(Base):
    """A piece of a render in pieces: output frames [frame_start, frame_end) (kind `video`),
    or the whole render's sound (kind `sound`, no frames). A job of its own, with its own
    states (shared.states.PieceState: queued → rendering → uploading → uploaded, or
    failed/canceled), attempts and lease; `output_key` is the stored piece once uploaded."""

    __tablename__ = "render_pieces"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("render_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    frame_start: Mapped[int] = mapped_column(Integer, nullable=False)
    frame_end: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), default="video", server_default="video",
                                      nullable=False)
    # A PieceState (shared/states.py).
    state: Mapped[str] = mapped_column(String(20), default=PieceState.QUEUED, nullable=False,
                                       index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    output_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Its render-cache key (worker/render/piece_keys.py), None when it cannot be keyed, and
    # whether its stored object is a cache entry's, reused (not this render's to delete).
    cache_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(),
                                         nullable=False)
    # The most frames any attempt has rendered: progress never goes back on a retry.
    frames_done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Of its frames, how many the stored attempt copied from a source instead of encoding.
    copied: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    error: Mapped[str | None] = mapped_column(Reason, nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @property
    def frames(self) -> int:
        return self.frame_end - self.frame_start


class RenderCacheEntry(Base):
    """A piece an owner's render stored and its join checked, kept to be reused by the same
    owner's later renders (shared/render_cache.py): keyed by what its bytes depend on.

    `stored` is set once its object is whole in the store (a row is claimed first, so two
    renders that made the same piece write it once); `sha256` is the object's, checked by
    the join that reuses it. Owners never share entries."""

    __tablename__ = "render_cache"

    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    object_key: Mapped[str] = mapped_column(String(500), nullable=False)
    bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    frames: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    stored: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # A whole output's entry: what its render's finish records beside the bytes (stream
    # facts, duration, warnings); None for a piece.
    facts: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = created_column()
    last_used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False,
                                                   index=True)


class RenderCacheSource(Base):
    """The content (sha256) of a source an entry was made from: deleting the owner's last
    live source with that content removes the entry."""

    __tablename__ = "render_cache_sources"
    __table_args__ = (ForeignKeyConstraint(
        ["owner_id", "key"], ["render_cache.owner_id", "render_cache.key"], ondelete="CASCADE"),
        Index("ix_render_cache_sources_owner_sha256", "owner_id", "sha256"))

    owner_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
