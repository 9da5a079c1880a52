"""A `direct` upload link outlives its row (issue 10, D5). Through gunicorn: the local store's
link refuses the PUT once the video file, asset or project is deleted; S3's presigned PUT
cannot be refused, so the orphan sweep deletes what it stored."""
from __future__ import annotations

import time

import pytest
import requests

from shared.storage import open_storage
from tests.fixtures.livesrv import ApiCaller
from worker.orphans import sweep_orphans


@pytest.fixture
def api(live_server, make_user):
    return ApiCaller(live_server.url, make_user()[1])


def direct_video_file(api) -> tuple[dict, str]:
    created = api("POST", "/video-file", json={"name": "d", "filename": "d.mp4",
                                                "upload_method": "direct"}).json()
    return created, created["upload_url"]


def direct_asset(api) -> tuple[dict, str]:
    project = api("POST", "/projects", json={"name": "p", "description": "d"}).json()
    created = api("POST", f"/projects/{project['id']}/asset", json={
        "upload_method": "direct", "asset_type": "user", "keyname": "a.png"}).json()
    return {**created, "project_id": project["id"], "owner_id": project["owner_id"]}, \
        created["upload_url"]["url"]


@pytest.mark.parametrize("make, delete", [
    (direct_video_file, lambda row: f"/video-file/{row['id']}"),
    (direct_asset, lambda row: f"/assets/{row['id']}"),
    (direct_asset, lambda row: f"/projects/{row['project_id']}"),
], ids=["video-file", "asset", "project"])
def test_a_direct_link_of_a_deleted_row(api, settings, db, make, delete):
    row, link = make(api)
    assert api("DELETE", delete(row)).status_code == 200
    put = requests.put(link, data=b"late bytes", timeout=30)
    storage = open_storage(settings)
    owner = api("GET", "/users/me").json()["id"]
    stored = [o.key for o in storage.list_objects(owner)]
    if storage.scheme == "file":
        assert put.status_code == 404, put.text
        assert stored == []
        return
    assert put.status_code == 200 and len(stored) == 1  # S3 took it: the sweep removes it
    with db.session() as session:
        assert sweep_orphans(session, storage, 60, prefix=owner) == []  # not old enough yet
        assert sweep_orphans(session, storage, 60, now=time.time() + 120,
                             prefix=owner) == stored
    assert list(storage.list_objects(owner)) == []
