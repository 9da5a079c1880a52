"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app, users, a live server."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, text

from shared.cli import create_user, migrate
from shared.config import Settings
from shared.db import Database
from tests.livesrv import ApiCaller, LiveServer, RedisServer, Worker, hooks_worker

PG_ADMIN_URL = os.environ.get("CANOPY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


pytest_plugins = ["tests.fixtures.s3"]

FETCH_TEST_HOST = "127.0.0.2"
# Six tries within about a second, not an hour.
WEBHOOK_TEST_BACKOFF = (0.1, 0.2, 0.2, 0.2, 0.2)
WEBHOOK_TEST_TIMEOUT = 3  # seconds a try may take: the slow-receiver tests wait for it


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A freshly migrated database of each kind, for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'canopy.db'}"
        migrate(Settings(database_url=url))
        yield url
        return
    with postgres_database() as url:
        yield url


@contextmanager
def postgres_database():
    """A new, migrated PostgreSQL database on the test server, dropped afterwards."""
    name = f"canopy_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(Settings(database_url=url))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """This session's own Redis server."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(database_url, redis_server, s3_server, tmp_path_factory) -> Settings:
    """PostgreSQL runs with the S3 store (moto's server), SQLite with the local-disk store."""
    objects = tmp_path_factory.mktemp("objects")
    return Settings(
        database_url=database_url,
        redis_url=redis_server.url,
        storage_url=s3_server if database_url.startswith("postgresql") else f"file://{objects}",
        secret_key="test-secret",
        cache_dir=str(tmp_path_factory.mktemp("cache")),
        # The url-upload and webhook tests serve on this one loopback address of their own.
        fetch_allow=[FETCH_TEST_HOST],
        webhook_backoff=WEBHOOK_TEST_BACKOFF,
        webhook_timeout_seconds=WEBHOOK_TEST_TIMEOUT,
        # The workers' lines are JSON, so tests can read their render steps.
        log_format="json",
    )


@pytest.fixture(scope="session")
def db(settings) -> Database:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app(settings):
    from api import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(db):
    """make_user() -> (user_id, api_key): a new user each call, so tests never share rows."""

    def _make(email: str | None = None):
        user, key = create_user(db, email or f"{uuid.uuid4().hex[:10]}@example.com")
        return user.id, key

    return _make


@pytest.fixture
def auth(make_user) -> dict[str, str]:
    """Headers of a fresh user."""
    _, key = make_user()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def live_server(settings, tmp_path_factory):
    """The API under gunicorn on a free loopback port, as `make run` serves it."""
    server = LiveServer(replace(settings), tmp_path_factory.mktemp("live"))
    server.start()
    yield server
    server.stop()


def _running(proc: Worker):
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def worker(settings, live_server, tmp_path_factory):
    """One Celery worker process consuming the media and CPU render queues; its links point
    at the live server."""
    yield from _running(Worker(settings, tmp_path_factory.mktemp("worker"),
                               extra_env={"CANOPY_PUBLIC_URL": live_server.url}))


@pytest.fixture(scope="session")
def hooks(settings, live_server, tmp_path_factory):
    """The webhook sender: a worker of its own on the `hooks` queue (the Procfile's `hooks`)."""
    yield from _running(hooks_worker(settings, tmp_path_factory.mktemp("hooks"),
                                     extra_env={"CANOPY_PUBLIC_URL": live_server.url}))


@pytest.fixture(scope="session")
def farm(live_server, worker, hooks):
    """The API under gunicorn, a worker and the webhook sender: everything `make run` starts
    but Redis."""
    return live_server


@pytest.fixture
def user_key(make_user) -> str:
    return make_user()[1]


@pytest.fixture
def vj(farm, user_key, monkeypatch):
    """The published `videojungle` client, unchanged, pointed at the live farm."""
    from videojungle import ApiClient

    monkeypatch.setattr(ApiClient, "BASE_URL", farm.url)
    return ApiClient(user_key)


@pytest.fixture
def api(farm, user_key):
    """The same user's raw HTTP calls: api("POST", "/video-file", json=...)."""
    return ApiCaller(farm.url, user_key)
