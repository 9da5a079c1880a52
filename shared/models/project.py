"""Projects, the prompts they may be created from, and their stored scripts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, created_column, id_column, owner_column


class Prompt(Base):
    __tablename__ = "prompts"

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    value: Mapped[str] = mapped_column(Text, default="", nullable=False)
    persona: Mapped[str] = mapped_column(Text, default="", nullable=False)
    name: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    task: Mapped[str | None] = mapped_column(Text, nullable=True)
    parameters: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    created_at: Mapped[datetime] = created_column()


class Project(Base):
    __tablename__ = "projects"
    # A user's projects, newest first (a page of them, however many projects there are).
    __table_args__ = (Index("ix_projects_owner_id_created_at", "owner_id", "created_at"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    # The seed sends a string ("prompt-to-video"); objects are accepted too.
    data: Mapped[Any] = mapped_column(JSON, default="", nullable=True)
    template_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prompt_id: Mapped[str | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_column()

    prompt: Mapped[Prompt | None] = relationship()
    scripts: Mapped[list["Script"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Script.created_at")
    assets: Mapped[list["Asset"]] = relationship(  # noqa: F821
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="Asset.created_at",
    )


class Script(Base):
    """A stored script of a project, as the client creates it (Canopy generates nothing from
    it: generation answers 501). `value` is the client's `data`; `inputs` a list of objects
    (the client sends one object: it is stored as the list's one element)."""

    __tablename__ = "scripts"

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = owner_column()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    value: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    inputs: Mapped[list[dict]] = mapped_column(JSON, default=list, nullable=False)
    key: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    manuscript: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = created_column()
