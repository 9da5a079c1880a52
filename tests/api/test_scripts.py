"""Stored scripts: created, read, listed and deleted with the published client (whose
`inputs` goes out as an object and comes back as a list its `Script` model reads); owner
isolation; hostile bodies; generating from one stays a 501."""
from __future__ import annotations

import uuid

import pytest
import requests
from videojungle import ApiClient
from videojungle.model import Project, Script


@pytest.fixture
def vj(live_server, make_user, monkeypatch):
    monkeypatch.setattr(ApiClient, "BASE_URL", live_server.url)
    return ApiClient(make_user()[1])


def test_script_crud_with_the_client(vj):
    project = vj.projects.create("Scripts", "stored scripts")
    data = {"scenes": [{"text": "Hello {city}", "seconds": 3}], "voice": "calm"}
    script = vj.scripts.create(project.id, "tour", data, {"city": "text"})
    assert isinstance(script, Script)
    assert (script.project_id, script.name, script.value) == (project.id, "tour", data)
    assert script.inputs == [{"city": "text"}]  # the object sent, as the list's one element
    assert vj.scripts.get(project.id, script.id) == script
    assert [s.id for s in vj.scripts.list(project.id)] == [script.id]
    assert [s.id for s in vj.projects.get(project.id).scripts] == [script.id]

    listed = vj.scripts.create(project.id, "listed", {}, [{"name": "a"}, {"name": "b"}])
    assert listed.inputs == [{"name": "a"}, {"name": "b"}]  # a list is kept as it is
    assert vj.scripts.create(project.id, "none", {}, {}).inputs == []
    assert [s.id for s in vj.scripts.list(project.id)][0] != script.id  # newest first

    assert vj.scripts.delete(project.id, script.id) == {"id": script.id, "deleted": True}
    with pytest.raises(requests.HTTPError) as gone:
        vj.scripts.get(project.id, script.id)
    assert gone.value.response.status_code == 404
    with pytest.raises(requests.HTTPError) as generating:
        vj.projects.generate(project.id, listed.id, {"city": "Paris"})
    assert generating.value.response.status_code == 501


def test_another_owners_scripts_are_not_found(client, make_user):
    owner, stranger = ({"X-API-Key": make_user()[1]} for _ in range(2))
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=owner).json
    script = client.post(f"/scripts/{project['id']}/scripts", headers=owner,
                         json={"name": "s", "data": {}, "inputs": {}}).json
    other = client.post("/projects", json={"name": "q", "description": "d"}, headers=owner).json
    for method, path in [("GET", f"/scripts/{project['id']}/{script['id']}"),
                         ("DELETE", f"/scripts/{project['id']}/{script['id']}"),
                         ("GET", f"/projects/{project['id']}/scripts"),
                         ("POST", f"/scripts/{project['id']}/scripts")]:
        answer = client.open(path, method=method, headers=stranger,
                             json={"name": "s", "data": {}, "inputs": {}})
        assert answer.status_code == 404, (method, path)
    # the script is found only under its own project
    assert client.get(f"/scripts/{other['id']}/{script['id']}", headers=owner).status_code == 404
    assert client.get(f"/scripts/{project['id']}/{uuid.uuid4()}", headers=owner).status_code == 404
    assert client.get(f"/scripts/{project['id']}/{script['id']}", headers=owner).status_code == 200


def test_deleting_a_project_deletes_its_scripts(client, db, auth):
    from shared.models import Script

    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json
    script = client.post(f"/scripts/{project['id']}/scripts", headers=auth,
                         json={"name": "s", "data": {"a": 1}}).json
    assert client.delete(f"/projects/{project['id']}", headers=auth).status_code == 200
    with db.session() as session:
        assert session.get(Script, script["id"]) is None


@pytest.mark.parametrize("body, loc", [
    ({"data": {}}, ["body", "name"]),
    ({"name": "", "data": {}}, ["body", "name"]),
    ({"name": "n" * 201}, ["body", "name"]),
    ({"name": "n", "data": [1, 2]}, ["body", "data"]),
    ({"name": "n", "inputs": "city"}, ["body", "inputs"]),
    ({"name": "n", "inputs": [{"i": n} for n in range(101)]}, ["body", "inputs"]),
])
def test_a_bad_script_is_a_422_naming_the_field(client, auth, body, loc):
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json
    answer = client.post(f"/scripts/{project['id']}/scripts", headers=auth, json=body)
    assert answer.status_code == 422
    assert answer.json["detail"][0]["loc"][:2] == loc
    assert client.get(f"/projects/{project['id']}/scripts", headers=auth).json == []


def test_a_huge_script_is_a_413_and_stores_nothing(client, auth):
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json
    answer = client.post(f"/scripts/{project['id']}/scripts", headers=auth,
                         json={"name": "big", "data": {"text": "x" * (2 * 1024 * 1024)}})
    assert answer.status_code == 413
    assert client.get(f"/projects/{project['id']}/scripts", headers=auth).json == []


def test_the_project_model_reads_its_scripts(client, auth):
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json
    client.post(f"/scripts/{project['id']}/scripts", headers=auth,
                json={"name": "s", "data": {"k": "v"}, "inputs": {"x": 1}})
    read = Project(**client.get(f"/projects/{project['id']}", headers=auth).json)
    assert read.scripts[0].value == {"k": "v"} and read.scripts[0].inputs == [{"x": 1}]


def test_a_project_holds_a_bounded_number_of_scripts(client, auth, monkeypatch):
    from api.services import scripts

    monkeypatch.setattr(scripts, "MAX_SCRIPTS", 3)
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json
    url = f"/scripts/{project['id']}/scripts"
    made = [client.post(url, headers=auth, json={"name": f"s{i}"}).json for i in range(3)]
    refused = client.post(url, headers=auth, json={"name": "one too many"})
    assert refused.status_code == 409 and "at most 3 scripts" in refused.json["detail"]
    assert client.delete(f"/scripts/{project['id']}/{made[0]['id']}", headers=auth).status_code == 200
    assert client.post(url, headers=auth, json={"name": "room again"}).status_code == 201
