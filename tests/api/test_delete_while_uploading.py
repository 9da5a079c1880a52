"""Deleting media while its multipart upload is still arriving (gunicorn, real HTTP): the
upload answers 404 and leaves no object behind, whichever of the two finishes first."""
from __future__ import annotations

import threading

import pytest
import requests

from shared.storage import open_storage
from shared.states import MediaState
from tests.fixtures.livesrv import ApiCaller, wait_for

BOUNDARY = "canopy-test-boundary"
HALF = 512 * 1024


def slow_multipart(halfway: threading.Event, go_on: threading.Event):
    """A multipart `file` that stops halfway until `go_on` is set."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"slow.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    yield b"\0" * HALF
    halfway.set()
    go_on.wait(30)
    yield b"\1" * HALF
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def api(live_server, make_user):
    return ApiCaller(live_server.url, make_user()[1])


def upload_while(api, upload_path: str, status_path: str, delete_path: str) -> requests.Response:
    halfway, go_on, answer = threading.Event(), threading.Event(), {}

    def send():
        headers = {**api.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        answer["response"] = requests.post(api.base_url + upload_path, headers=headers,
                                           data=slow_multipart(halfway, go_on), timeout=60)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert halfway.wait(30)
        wait_for(lambda: api("GET", status_path).json()["status"] == MediaState.PROCESSING, 30,
                 "the upload to be in flight")
        assert api("DELETE", delete_path).status_code == 200
    finally:
        go_on.set()
        sender.join(60)
    return answer["response"]


def test_video_file_deleted_during_its_upload(api, settings):
    video = api("POST", "/video-file", json={"name": "v", "filename": "v.mp4"}).json()
    response = upload_while(api, video["upload_url"], f"/video-file/{video['id']}",
                            f"/video-file/{video['id']}")
    assert response.status_code == 404, response.text
    assert "deleted during the upload" in response.json()["detail"]
    storage = open_storage(settings)
    assert list(storage.list_objects(f"{video['owner_id']}/video-files/{video['id']}")) == []


def test_project_deleted_during_an_asset_upload(api, settings):
    project = api("POST", "/projects", json={"name": "p", "description": "d"}).json()
    asset = api("POST", f"/projects/{project['id']}/asset", json={
        "upload_method": "file-no-chunk", "asset_type": "user", "keyname": "a.mp4"}).json()
    response = upload_while(api, asset["upload_url"]["url"], f"/assets/{asset['id']}",
                            f"/projects/{project['id']}")
    assert response.status_code == 404, response.text
    storage = open_storage(settings)
    assert list(storage.list_objects(f"{project['owner_id']}/{project['id']}")) == []
