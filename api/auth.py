"""API-key authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
from __future__ import annotations

import threading
import time

from flask import Flask, g, request
from pydantic import ConfigDict
from sqlalchemy import bindparam, select

from shared.errors import Unauthorized
from shared.models import ApiKey, User, hash_key

from .context import read_row
from .schemas import UserOut

# Endpoints anyone may call: health, the API docs, links that carry their own signature, the
# dashboard's static files (its data comes from the API with the user's key), and metrics
# (guarded by their own token or by loopback).
PUBLIC_BLUEPRINTS = {"health", "files", "metrics", "openapi", "swagger", "docs", "ui"}

# A key's owner is remembered this long per process, so polling clients cost no extra query;
# a revoked key or a deactivated user stops working within this time.
KEY_CACHE_SECONDS = 5.0


class Caller(UserOut):
    """The authenticated user, detached from any database session: what /users/me shows."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


class KeyCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Caller | None:
        entry = self._entries.get(digest)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        return None

    def put(self, digest: str, caller: Caller) -> None:
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: a flood of keys cannot grow it
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl, caller)


_cache = KeyCache(KEY_CACHE_SECONDS)
_CALLER_OF_KEY = (select(*(getattr(User, name) for name in Caller.model_fields))
                  .join(ApiKey, ApiKey.user_id == User.id)
                  .where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None),
                         User.is_active))


def presented_key() -> str | None:
    """The request's key: from `Authorization: Bearer` or `X-API-Key`. A request that sends
    two different keys is refused: which user it acts as must not depend on header order."""
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    api_key = request.headers.get("X-API-Key", "").strip()
    if bearer and api_key and bearer != api_key:
        raise Unauthorized("Two different API keys: send one, as 'Authorization: Bearer <key>' "
                           "or as 'X-API-Key'")
    return bearer or api_key or None


def caller_of(user: User) -> Caller:
    return Caller.model_validate(user)


def find_caller(key: str) -> Caller | None:
    digest = hash_key(key)
    caller = _cache.get(digest)
    if caller is not None:
        return caller
    row = read_row(_CALLER_OF_KEY, digest=digest)  # no transaction: the body is read after
    if row is None:
        return None
    caller = Caller.model_validate(row)
    _cache.put(digest, caller)
    return caller


def authenticate() -> None:
    """Runs before every view; unknown routes fall through to their 404."""
    if request.endpoint is None or request.method == "OPTIONS":
        return
    if request.blueprint in PUBLIC_BLUEPRINTS:
        return
    key = presented_key()
    if not key:
        raise Unauthorized("Not authenticated: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    caller = find_caller(key)
    if caller is None:
        raise Unauthorized("Invalid API key")
    g.user = caller


def current_user() -> Caller:
    return g.user


def init_app(app: Flask) -> None:
    app.before_request(authenticate)
