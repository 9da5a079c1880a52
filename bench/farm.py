"""A throwaway farm for benchmarks: its own Redis, database, store, gunicorn, worker."""
from __future__ import annotations

import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from shared.cli import create_user, migrate
from shared.config import Settings
from shared.db import Database
from tests.fixtures.livesrv import ApiCaller, Farm, RedisServer, wait_for


DATABASES = ("sqlite", "postgresql")


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A new, migrated database: SQLite in `folder`, or one on the test PostgreSQL server."""
    if kind == "postgresql":
        from tests.fixtures.database import postgres_database

        with postgres_database() as url:
            yield url
        return
    url = f"sqlite:///{folder / 'canopy.db'}"
    migrate(Settings(database_url=url))
    yield url


@contextmanager
def bench_farm(workers: int = 1, database_kind: str = "sqlite", **settings):
    """Yields (farm, api): a started farm (`settings` over the defaults) and a new user's
    caller."""
    with tempfile.TemporaryDirectory(prefix="canopy-bench-") as tmp, \
            database(database_kind, Path(tmp)) as database_url:
        folder = Path(tmp)
        redis = RedisServer(folder)
        redis.start()
        settings = Settings(
            database_url=database_url, redis_url=redis.url,
            storage_url=f"file://{folder / 'objects'}", secret_key="bench",
            cache_dir=str(folder / "cache"), **settings,
        )
        farm = Farm(settings, folder, redis)
        try:
            farm.start(workers)
            _, key = create_user(Database(settings.database_url), f"{uuid.uuid4().hex[:8]}@bench")
            yield farm, ApiCaller(farm.url, key)
        finally:
            farm.stop()


def pin_workers(farm, cores=(0, 1)) -> None:
    """Start one worker a core, each pinned to its core (`taskset -c N`, concurrency 1)."""
    from tests.fixtures.livesrv import Worker

    for core in cores:
        worker = Worker(farm.settings, farm.log_dir, name=f"core{core}",
                        wrap=["taskset", "-c", str(core)])
        worker.start()
        farm.workers.append(worker)


def upload_video(api: ApiCaller, path: Path) -> str:
    created = api("POST", "/video-file", json={"name": path.stem, "filename": path.name}).json()
    with open(path, "rb") as fh:
        api("POST", created["upload_url"], files={"file": (path.name, fh)}).raise_for_status()
    wait_for(lambda: api("GET", f"/video-file/{created['id']}").json()["current_status"] == "analyzed",
             60, f"probe of {path.name}")
    return created["id"]
