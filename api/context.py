"""Per-app services (settings, database, storage), reached from views and services.

`create_app` builds one `Services` and stores it in `app.extensions["canopy"]`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: Any = None  # a shared.storage backend
    celery: Any = None  # a Celery app used only to send tasks by name
    redis: Any = None  # a redis.Redis client, for the metrics' queue depths and presences
    events: Any = None  # the process's api.events.Hub: live status streams


def services() -> Services:
    return current_app.extensions["canopy"]


def get_settings() -> Settings:
    return services().settings


def get_storage():
    return services().storage


def get_session() -> Session:
    """The request's session; committed by the service that writes, closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().db.sessionmaker()
    return g.db_session


def read_row(statement, **params) -> Row | None:
    """One row (or None) of a prebuilt select, without an ORM Session or a transaction.

    For reads that clients poll in loops: a Session's setup and close cost about twice the
    query itself on SQLite, a pooled transaction's BEGIN/ROLLBACK and ping three times it on
    PostgreSQL (`Database.read_one`). Build the statement once, with `bindparam`s.
    """
    return services().db.read_one(statement, **params)


def close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
