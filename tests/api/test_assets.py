"""Creating project assets in-process: the asset types a client may and may not ask for."""
from __future__ import annotations

import pytest


@pytest.fixture
def project(client, auth):
    return client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json


@pytest.mark.parametrize("upload_method", ["file-no-chunk", "direct"])
@pytest.mark.parametrize("asset_type", ["generated_video", "video-reference"])
def test_types_canopy_makes_itself_are_422(client, auth, project, upload_method, asset_type):
    """Only renders make generated videos (and links video-references): an asset of either
    type made here would wait for bytes no upload may bring, queued for ever."""
    response = client.post(f"/projects/{project['id']}/asset", headers=auth, json={
        "upload_method": upload_method, "asset_type": asset_type, "keyname": "x.mp4"})
    assert response.status_code == 422, response.json
    assert [e["loc"] for e in response.json["detail"]] == [["body", "asset_type"]]
    assert client.get(f"/projects/{project['id']}/assets", headers=auth).json == []


def test_a_user_asset_is_created(client, auth, project):
    response = client.post(f"/projects/{project['id']}/asset", headers=auth, json={
        "upload_method": "file-no-chunk", "asset_type": "user", "keyname": "x.mp4"})
    assert response.status_code == 201, response.json
    assert response.json["upload_url"] == {"url": f"/assets/{response.json['id']}/upload"}
