"""The seed's Projects endpoints: shapes, paging, form posts, bad input, owner isolation."""
from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest

SEED_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


def create(client, auth, **fields):
    body = {"name": "Trailer", "description": "a test project", **fields}
    response = client.post("/projects", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_create_returns_the_seed_fields(client, auth):
    project = create(client, auth, data={"style": "noir"}, template_key="prompt-to-video")
    assert set(project) >= {
        "id", "name", "description", "data", "created_at", "owner_id", "asset_count",
        "assets", "prompts", "scripts",
    }
    assert uuid.UUID(project["id"]).version == 4
    assert SEED_TS.match(project["created_at"]), project["created_at"]
    assert project["data"] == {"style": "noir"}
    assert (project["asset_count"], project["assets"], project["scripts"]) == (0, [], [])


def test_form_fields_as_the_seed_curl_sends(client, auth):
    response = client.post(
        "/projects", data={"name": "From curl", "description": "made with -d"}, headers=auth
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "From curl"
    assert response.json["data"] == ""


def test_list_newest_first_with_paging_headers(client, auth):
    ids = [create(client, auth, name=f"p{i}")["id"] for i in range(3)]
    response = client.get("/projects?limit=2&page=1", headers=auth)
    assert response.status_code == 200
    assert [p["id"] for p in response.json] == [ids[2], ids[1]]
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"] and "page=2" in response.headers["Link"]
    second = client.get("/projects?limit=2&page=2&active=true", headers=auth)
    assert [p["id"] for p in second.json] == [ids[0]]
    assert 'rel="next"' not in second.headers["Link"]


def test_default_limit_is_ten(client, auth):
    for i in range(11):
        create(client, auth, name=f"p{i}")
    assert len(client.get("/projects", headers=auth).json) == 10
    assert len(client.get("/projects?limit=10", headers=auth).json) == 10


def test_get_and_delete(client, auth):
    project = create(client, auth)
    fetched = client.get(f"/projects/{project['id']}", headers=auth)
    assert fetched.status_code == 200 and fetched.json["id"] == project["id"]
    deleted = client.delete(f"/projects/{project['id']}", headers=auth)
    assert deleted.status_code == 200
    assert deleted.json == {"id": project["id"], "deleted": True}
    assert client.get(f"/projects/{project['id']}", headers=auth).status_code == 404


def test_prompt_id_must_be_the_callers_prompt(client, auth, make_user):
    prompt = client.post("/prompts", json={"value": "v", "parameters": []}, headers=auth).json
    project = create(client, auth, prompt_id=prompt["id"])
    assert project["prompts"][0]["id"] == prompt["id"]

    _, other_key = make_user()
    other = {"X-API-Key": other_key}
    response = client.post(
        "/projects", json={"name": "n", "description": "d", "prompt_id": prompt["id"]}, headers=other
    )
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"] == ["body", "prompt_id"]

    unknown = client.post(
        "/projects", json={"name": "n", "description": "d", "prompt_id": str(uuid.uuid4())},
        headers=auth,
    )
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"description": "d"}, ["body", "name"]),
        ({"name": "n"}, ["body", "description"]),
        ({"name": 5, "description": "d"}, ["body", "name"]),
        ({"name": "", "description": "d"}, ["body", "name"]),
        ({"name": "n", "description": ["not", "text"]}, ["body", "description"]),
        ({"name": "n", "description": "d", "prompt_id": "nope"}, ["body", "prompt_id"]),
        ({"name": "n", "description": "d", "data": 12}, ["body", "data"]),
    ],
)
def test_bad_bodies_name_the_field(client, auth, body, loc):
    response = client.post("/projects", json=body, headers=auth)
    assert response.status_code == 422
    assert loc in [error["loc"][: len(loc)] for error in response.json["detail"]]


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=1000", "page=0", "limit=-1"])
def test_bad_paging_is_422(client, auth, query):
    response = client.get(f"/projects?{query}", headers=auth)
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"][0] == "query"


def test_malformed_json_is_400(client, auth):
    response = client.post(
        "/projects", data='{"name": "n", ', content_type="application/json", headers=auth
    )
    assert response.status_code == 400
    assert response.json == {"detail": "Malformed JSON body"}


def test_json_that_is_not_an_object_is_422(client, auth):
    response = client.post("/projects", json=["name", "description"], headers=auth)
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/projects/not-a-uuid", "/projects/123", f"/projects/{uuid.uuid4()}"])
def test_unknown_or_malformed_ids_are_404(client, auth, path):
    assert client.get(path, headers=auth).status_code == 404
    assert client.delete(path, headers=auth).status_code == 404


def test_another_owners_project_is_404_and_untouched(client, auth, make_user):
    project = create(client, auth)
    _, other_key = make_user()
    other = {"Authorization": f"Bearer {other_key}"}
    assert client.get(f"/projects/{project['id']}", headers=other).status_code == 404
    assert client.delete(f"/projects/{project['id']}", headers=other).status_code == 404
    assert project["id"] not in [p["id"] for p in client.get("/projects", headers=other).json]
    assert client.get(f"/projects/{project['id']}", headers=auth).status_code == 200


def test_created_at_is_utc_now(client, auth):
    project = create(client, auth)
    created = datetime.fromisoformat(project["created_at"])
    assert abs((datetime.utcnow() - created).total_seconds()) < 60


def unsigned(assets: list[dict]) -> list[dict]:
    """The assets with each link's query string (its signature and dates) left out."""
    return [{k: v.split("?")[0] if isinstance(v, str) and k.endswith("url") else v
             for k, v in asset.items()} for asset in assets]


def test_a_projects_statements_do_not_grow_with_its_assets(client, make_user, db):
    """A project's answer reads its assets in a fixed number of SQL statements, however
    many (no statement per asset, per linked library file or per thumbnail)."""
    from sqlalchemy import Engine, event

    from shared.models import GENERATED_VIDEO, Asset, VideoFile
    from shared.states import MediaState

    user_id, key = make_user()
    auth = {"Authorization": f"Bearer {key}"}
    project = create(client, auth)["id"]

    def add_assets(count: int) -> None:
        with db.session() as session:
            for i in range(count):
                linked = VideoFile(owner_id=user_id, name=f"v{i}", filename=f"v{i}.mp4",
                                   status=MediaState.ANALYZED, storage_key=f"{user_id}/v/{i}.mp4",
                                   thumbnail_key=f"{user_id}/v/{i}.jpg")
                session.add(linked)
                session.flush()
                session.add_all([
                    Asset(owner_id=user_id, project_id=project, keyname=f"u{i}.mp4", asset_type="user",
                          status=MediaState.ANALYZED, uploaded=True, storage_key=f"{user_id}/a/{i}.mp4",
                          thumbnail_key=f"{user_id}/a/{i}.jpg", filename=f"u{i}.mp4"),
                    Asset(owner_id=user_id, project_id=project, keyname=f"r{i}.mp4",
                          asset_type=GENERATED_VIDEO, status="uploaded", uploaded=True,
                          storage_key=f"{user_id}/r/{i}.mp4", pieces_total=4, pieces_done=4),
                    Asset(owner_id=user_id, project_id=project, keyname=linked.id,
                          asset_type="video-reference", video_file_id=linked.id),
                ])
            session.commit()

    paths = [f"/projects/{project}", f"/projects/{project}/asset", f"/projects/{project}/assets",
             f"/projects/{project}/asset/generated", "/projects", f"/projects/{project}/asset?limit=50"]

    def statements() -> tuple[dict[str, int], dict]:
        counts, answers = {}, {}
        for path in paths:
            seen = []

            def count(*_args):
                seen.append(1)

            event.listen(Engine, "before_cursor_execute", count)
            try:
                response = client.get(path, headers=auth)
            finally:
                event.remove(Engine, "before_cursor_execute", count)
            assert response.status_code == 200, response.json
            counts[path], answers[path] = len(seen), response.json
        return counts, answers

    add_assets(2)
    few, answers = statements()
    whole = answers[f"/projects/{project}"]
    assert (len(whole["assets"]), whole["asset_count"]) == (6, 2)
    # The same assets, signed a moment apart: an S3 link's signature names its second.
    assert unsigned(whole["assets"]) == unsigned(answers[f"/projects/{project}/asset"])
    linked = next(a for a in whole["assets"] if a["asset_type"] == "video-reference")
    assert linked["status"] == "analyzed" and linked["thumbnail_url"] and linked["url"]
    add_assets(40)
    many, answers = statements()
    assert len(answers[f"/projects/{project}"]["assets"]) == 126
    assert len(answers[f"/projects/{project}/asset/generated"]) == 42
    assert many == few
