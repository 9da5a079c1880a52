"""Declarative base and the column helpers every table uses."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, MetaData, String, Text
from sqlalchemy.types import TypeDecorator

from ..naming import without_paths
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Naive UTC, as stored; `isoformat()` gives the seed's `2024-07-16T12:13:05.899678`."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value else None


def id_column() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


def owner_column() -> Mapped[str]:
    """The user a row belongs to: the row goes when the user is deleted."""
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


def created_column() -> Mapped[datetime]:
    return mapped_column(DateTime, default=utcnow, nullable=False, index=True)


class Reason(TypeDecorator):
    """Text a client reads as why something failed (a job's, a media file's `error`). Every
    write, ORM or Core, cuts server paths to their last component (`without_paths`) and keeps
    at most MAX_CHARACTERS."""

    impl = Text
    cache_ok = True
    MAX_CHARACTERS = 4000

    def process_bind_param(self, value, dialect):
        return None if value is None else without_paths(value)[:self.MAX_CHARACTERS]
