"""A slow uploader holds no database transaction while its bytes arrive (gunicorn, real HTTP,
PostgreSQL). The server ends a session left idle in a transaction past
CANOPY_DB_IDLE_TRANSACTION_SECONDS (shared/db.py); an upload that kept one open across its
body would lose its session and answer 500, and meanwhile pin a pooled connection."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
import requests

from shared.states import MediaState
from tests.fixtures.livesrv import ApiCaller, LiveServer

IDLE = 0.5  # the server's limit here
BOUNDARY = "canopy-slow-boundary"
BYTES = b"\0" * 4096


def slow_client(parts: list[bytes]):
    """A body whose every part comes after the server's idle limit has passed, three times
    over: the slowness under test, not a wait for a result."""
    for part in parts:
        time.sleep(3 * IDLE)
        yield part


pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def api(settings, make_user, tmp_path):
    server = LiveServer(replace(settings, db_idle_transaction_seconds=IDLE,
                                storage_url=f"file://{tmp_path / 'objects'}"), tmp_path)
    server.start()
    try:
        yield ApiCaller(server.url, make_user()[1])
    finally:
        server.stop()


def test_a_slow_multipart_upload_is_stored(api):
    video = api("POST", "/video-file", json={"name": "v", "filename": "v.mp4"}).json()
    preamble = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"slow.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    response = requests.post(
        api.base_url + video["upload_url"], timeout=60, data=slow_client(
            [preamble, BYTES, f"\r\n--{BOUNDARY}--\r\n".encode()]),
        headers={**api.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code < 300, response.text
    row = api("GET", f"/video-file/{video['id']}").json()
    assert (row["status"], row["size"]) == (MediaState.PROCESSING, len(BYTES))  # probe queued


def test_a_slow_direct_upload_is_stored(api):
    created = api("POST", "/video-file", json={"name": "d", "filename": "d.mp4",
                                                "upload_method": "direct"}).json()
    response = requests.put(created["upload_url"], data=slow_client([BYTES, BYTES]), timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["size"] == 2 * len(BYTES)
