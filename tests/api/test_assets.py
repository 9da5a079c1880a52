"""Creating project assets in-process: the asset types a client may and may not ask for."""
from __future__ import annotations

import pytest
from videojungle.model import Asset as VideoJungleAsset

from shared.models import Asset


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


def test_a_projects_assets_come_whole_or_in_pages(client, auth, project):
    url = f"/projects/{project['id']}/asset"
    made = [client.post(url, json={"upload_method": "file-no-chunk", "asset_type": "user",
                                   "keyname": f"a{i}.mp4", "description": ""}, headers=auth).json["id"]
            for i in range(5)]
    whole = client.get(url, headers=auth)  # the Video Jungle client's call: every asset
    assert [a["id"] for a in whole.json] == made and "X-Total-Count" not in whole.headers
    pages = [client.get(f"{url}s?limit=2&page={page}", headers=auth) for page in (1, 2, 3)]
    assert [a["id"] for p in pages for a in p.json] == made
    assert {p.headers["X-Total-Count"] for p in pages} == {"5"}
    assert 'rel="next"' in pages[0].headers["Link"] and 'rel="next"' not in pages[2].headers["Link"]
    assert client.get(f"{url}/generated?limit=2", headers=auth).json == []


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "page=0", "limit=2&page=-1"])
def test_bad_asset_paging_is_422_naming_the_field(client, auth, project, query):
    response = client.get(f"/projects/{project['id']}/asset?{query}", headers=auth)
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"][:2] in (["query", "limit"], ["query", "page"])


# Whether each status is final, as the dashboard needs it (a render's; an upload's).
FINAL = {"generated_video": {"queued": False, "rendering": False, "uploading": False,
                             "uploaded": True, "failed": True, "canceled": True},
         "user": {"queued": False, "processing": False, "analyzed": True, "failed": True}}


@pytest.mark.parametrize("asset_type, status, finished",
                         [(kind, status, final) for kind, table in FINAL.items()
                          for status, final in table.items()])
def test_the_asset_json_says_whether_its_status_is_final(client, db, make_user, asset_type,
                                                         status, finished):
    user_id, key = make_user()
    headers = {"X-API-Key": key}
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=headers).json
    with db.session() as session:
        asset = Asset(owner_id=user_id, project_id=project["id"], keyname="a.mp4",
                      asset_type=asset_type, status=status)
        session.add(asset)
        session.flush()
        asset_id = asset.id
    read = [client.get(f"/assets/{asset_id}", headers=headers).json,
            client.get(f"/assets/{asset_id}/status", headers=headers).json,
            *client.get(f"/projects/{project['id']}/assets", headers=headers).json]
    assert [(body["status"], body["finished"]) for body in read] == [(status, finished)] * 3
    assert VideoJungleAsset(**read[0]).status == status  # the published client still reads it


@pytest.mark.parametrize("status", ["rendering", "uploaded", "canceled"])
def test_a_renders_output_takes_no_analysis(client, db, make_user, status):
    """Its status is its render's: an analysis asked of it is a 409 that leaves it as it is
    (it was a 500 once uploaded files got their transition table)."""
    user_id, key = make_user()
    headers = {"X-API-Key": key}
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=headers).json
    with db.session() as session:
        asset = Asset(owner_id=user_id, project_id=project["id"], keyname="r.mp4",
                      asset_type="generated_video", status=status,
                      storage_key=f"{user_id}/r/out.mp4")
        session.add(asset)
        session.commit()
        asset_id = asset.id
    response = client.post(f"/assets/{asset_id}/analysis", headers=headers)
    assert response.status_code == 409, response.json
    assert "takes no analysis" in response.json["detail"]
    assert client.get(f"/assets/{asset_id}/status", headers=headers).json["status"] == status
