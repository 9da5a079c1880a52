"""A slow client holds no database transaction while its request body arrives (gunicorn, real
HTTP, PostgreSQL): not an upload, not a JSON body read after its key was checked. The server
ends a session left idle in a transaction past CANOPY_DB_IDLE_TRANSACTION_SECONDS
(shared/db.py); a request that kept one open across its body would lose its session and
answer 500, and meanwhile pin a pooled connection."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
import requests

from tests.fixtures.livesrv import ApiCaller, LiveServer

IDLE = 0.5  # the server's limit here
BOUNDARY = "canopy-slow-boundary"
BYTES = b"\0" * 4096


def slow_client(parts: list[bytes]):
    """A body whose every part comes after the server's idle limit has passed, three times
    over: the slowness under test, not a wait for a result."""
    for part in parts:
        time.sleep(3 * IDLE)  # a client pausing: the input under test; any pause passes
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
    assert api("GET", f"/video-file/{video['id']}").json()["size"] == len(BYTES)


def test_a_slow_direct_upload_is_stored(api):
    created = api("POST", "/video-file", json={"name": "d", "filename": "d.mp4",
                                                "upload_method": "direct"}).json()
    response = requests.put(created["upload_url"], data=slow_client([BYTES, BYTES]), timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["size"] == 2 * len(BYTES)


def test_a_slow_json_body_after_its_key_was_checked(api):
    """The first request of a key (no cached owner): the key's lookup runs before the body
    is read, and holds no transaction."""
    body = json.dumps({"name": "slow", "description": "a body in three parts"}).encode()
    response = requests.post(api.base_url + "/projects", timeout=60,
                             data=slow_client([body[:10], body[10:20], body[20:]]),
                             headers={**api.headers, "Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert api("GET", f"/projects/{response.json()['id']}").json()["name"] == "slow"
