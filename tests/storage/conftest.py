"""Fixtures of the storage suite: every test runs against both backends."""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest
from flask import Flask
from werkzeug.serving import make_server

from api.context import Services
from api.errors import init_app as init_errors
from api.routes.files import bp as files_bp
from shared.config import Settings
from shared.storage import open_storage
from tests.fixtures.s3 import s3_server  # noqa: F401  (pytest finds fixtures by name)

UPLOAD_LIMIT = 256 * 1024


class FilesServer:
    """A real HTTP server running only the files blueprint, in a thread."""

    def __init__(self):
        self.app = Flask(__name__)
        init_errors(self.app)  # as create_app does: domain errors become JSON
        self.app.register_blueprint(files_bp)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, settings: Settings, storage) -> None:
        self.app.extensions["canopy"] = Services(settings=settings, db=None, storage=storage)


@pytest.fixture(scope="session")
def files_server():
    server = FilesServer()
    server._thread.start()
    yield server
    server._server.shutdown()
    server._thread.join()


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
