"""Fixtures of the storage suite: every test runs against both backends."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from shared import keys
from shared.cli import create_user, migrate
from shared.config import Settings
from shared.db import Database
from shared.models import VideoFile
from shared.storage import open_storage
from tests.fixtures.livesrv import UPLOAD_LIMIT, FilesServer

@pytest.fixture(scope="session")
def files_server(tmp_path_factory):
    """The files blueprint served on a free port, on a SQLite database of its own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('files-db') / 'canopy.db'}"
    migrate(Settings(database_url=url))
    server = FilesServer(Database(url))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, files_server):
    """A fresh store of each backend, served by `files_server` (links of the local one)."""
    if request.param == "local":
        url = f"file://{tmp_path / 'objects'}"
    else:
        url = request.getfixturevalue("s3_server")
    settings = replace(
        Settings(),
        storage_url=url,
        secret_key="storage-test-secret",
        public_url=files_server.url,
        link_ttl_seconds=300,
        max_upload_bytes=UPLOAD_LIMIT,
    )
    store = open_storage(settings)
    if request.param == "s3":
        store.part_size = 5 * 1024**2  # S3's smallest part: multipart with little data
    files_server.serve(settings, store)
    yield store
    store.close()


@pytest.fixture
def ns() -> str:
    """A key prefix of this test's own, since the S3 bucket lives for the session."""
    return f"owner-{uuid.uuid4().hex[:8]}/project"


@pytest.fixture
def direct_slot(files_server):
    """direct_slot(name) -> the key of a new video file's `direct` upload (its row expects it)."""

    def make(name: str = "direct.mov") -> str:
        user, _ = create_user(files_server.db, f"{uuid.uuid4().hex[:10]}@example.com")
        with files_server.db.session() as session:
            row = VideoFile(owner_id=user.id, name=name, filename=name, upload_method="direct")
            session.add(row)
            session.flush()
            row.storage_key = keys.media_key(row, name)
            return row.storage_key

    return make
