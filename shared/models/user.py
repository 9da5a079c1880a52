"""Users and their API keys (stored as SHA-256 digests, never in clear)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, created_column, id_column, owner_column

KEY_PREFIX = "cnp_"


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain digest is enough: no dictionary to guess from.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    avatar: Mapped[str] = mapped_column(String(500), default="", nullable=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = created_column()
    # Signs this user's webhooks ("whsec_" + base64). Kept in clear, unlike API keys: an
    # HMAC needs the secret itself, a digest of it could not sign.
    webhook_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)

    keys: Mapped[list["ApiKey"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = owner_column()
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # The first characters, so a person can tell their keys apart without the secret.
    key_prefix: Mapped[str] = mapped_column(String(12), nullable=False)
    created_at: Mapped[datetime] = created_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="keys")
