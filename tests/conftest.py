"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app, users, a live server."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from shared.cli import create_user, migrate
from shared.config import Settings
from shared.db import Database
from tests.fixtures.database import postgres_database
from tests.fixtures.farm import session_settings
from tests.fixtures.livesrv import ApiCaller, LiveServer, RedisServer, Worker, hooks_worker

pytest_plugins = ["tests.fixtures.s3"]


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
    storage = s3_server if database_url.startswith("postgresql") else f"file://{objects}"
    return session_settings(database_url, redis_server.url, storage,
                            str(tmp_path_factory.mktemp("cache")),
                            str(tmp_path_factory.mktemp("hold")))


@pytest.fixture(scope="session")
def db(settings) -> Database:
    """The session's database, as the app and workers open it."""
    database = Database(settings.database_url, settings.db_idle_transaction_seconds)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app(settings):
    """The Flask app on the session's settings, in testing mode."""
    from api import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    """Flask's test client of the app: requests without a server."""
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


@pytest.fixture(scope="session")
def worker(settings, live_server, tmp_path_factory):
    """One Celery worker (media and CPU render queues) linking to the live server."""
    with Worker(settings, tmp_path_factory.mktemp("worker"),
                extra_env={"CANOPY_PUBLIC_URL": live_server.url}) as proc:
        yield proc


@pytest.fixture(scope="session")
def hooks(settings, live_server, tmp_path_factory):
    """The webhook sender: a worker of its own on the `hooks` queue (the Procfile's `hooks`)."""
    with hooks_worker(settings, tmp_path_factory.mktemp("hooks"),
                      extra_env={"CANOPY_PUBLIC_URL": live_server.url}) as proc:
        yield proc


@pytest.fixture(scope="session")
def farm(live_server, worker, hooks):
    """The API under gunicorn, a worker and the webhook sender: all `make run` starts but Redis."""
    return live_server


@pytest.fixture
def user_key(make_user) -> str:
    """The API key of a fresh user."""
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
