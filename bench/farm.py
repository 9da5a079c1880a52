"""A throwaway farm for benchmarks: its own Redis, SQLite database, store, gunicorn, worker."""
from __future__ import annotations

import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from shared.cli import create_user, migrate
from shared.config import Settings
from shared.db import Database
from tests.livesrv import ApiCaller, Farm, RedisServer, wait_for


@contextmanager
def bench_farm(workers: int = 1):
    """Yields (farm, api): a started farm and a new user's caller."""
    with tempfile.TemporaryDirectory(prefix="canopy-bench-") as tmp:
        folder = Path(tmp)
        redis = RedisServer(folder)
        redis.start()
        settings = Settings(
            database_url=f"sqlite:///{folder / 'canopy.db'}", redis_url=redis.url,
            storage_url=f"file://{folder / 'objects'}", secret_key="bench",
            cache_dir=str(folder / "cache"),
        )
        migrate(settings)
        farm = Farm(settings, folder, redis)
        try:
            farm.start(workers)
            _, key = create_user(Database(settings.database_url), f"{uuid.uuid4().hex[:8]}@bench")
            yield farm, ApiCaller(farm.url, key)
        finally:
            farm.stop()


def upload_video(api: ApiCaller, path: Path) -> str:
    created = api("POST", "/video-file", json={"name": path.stem, "filename": path.name}).json()
    with open(path, "rb") as fh:
        api("POST", created["upload_url"], files={"file": (path.name, fh)}).raise_for_status()
    wait_for(lambda: api("GET", f"/video-file/{created['id']}").json()["current_status"] == "analyzed",
             60, f"probe of {path.name}")
    return created["id"]
