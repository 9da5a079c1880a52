"""What a worker process reaches: settings, database, storage, built once per process; and
the folder its tasks write their files in (`scratch`).

Built lazily and reset after a fork, so prefork children never share a database connection.
"""
from __future__ import annotations

import functools
import os

from shared.config import Settings
from shared.events import Announcer
from shared.db import Database
from shared.storage import open_storage


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


@functools.cache
def db() -> Database:
    database = Database(settings().database_url, settings().db_idle_transaction_seconds)
    Announcer(settings().redis_url).attach(database)  # status events of the rows it changes
    return database


@functools.cache
def storage():
    return open_storage(settings())


def reset() -> None:
    """Forget everything built before a fork (the child opens its own)."""
    for getter in (db, storage):
        getter.cache_clear()


def scratch() -> str:
    """Where tasks write their files (beside the source cache: the same disk)."""
    path = os.path.join(settings().cache_dir, "scratch")
    os.makedirs(path, exist_ok=True)
    return path
