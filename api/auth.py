"""API-key authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
from __future__ import annotations

from flask import Flask, g, request
from sqlalchemy import select

from shared.errors import Unauthorized
from shared.models import ApiKey, User, hash_key

from .context import get_session

# Endpoints anyone may call: health, the API docs, and links that carry their own signature.
PUBLIC_BLUEPRINTS = {"health", "files", "openapi", "swagger", "docs"}


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    return request.headers.get("X-API-Key", "").strip() or None


def find_user(key: str) -> User | None:
    row = get_session().execute(
        select(User)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None), User.is_active)
    ).scalar_one_or_none()
    return row


def authenticate() -> None:
    """Runs before every view; unknown routes fall through to their 404."""
    if request.endpoint is None or request.method == "OPTIONS":
        return
    if request.blueprint in PUBLIC_BLUEPRINTS or request.endpoint in ("static", "openapi_json"):
        return
    key = presented_key()
    if not key:
        raise Unauthorized("Not authenticated: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    user = find_user(key)
    if user is None:
        raise Unauthorized("Invalid API key")
    g.user = user


def current_user() -> User:
    return g.user


def init_app(app: Flask) -> None:
    app.before_request(authenticate)
