"""Stored prompts and the generative endpoints Canopy answers 501."""
from __future__ import annotations

import uuid


def test_prompt_crud(client, auth):
    created = client.post(
        "/prompts",
        json={"value": "A horoscope for {sign}", "parameters": ["sign"], "name": "horo",
              "persona": "astrologer", "task": "horoscope"},
        headers=auth,
    )
    assert created.status_code == 201
    prompt = created.json
    assert prompt["parameters"] == ["sign"] and prompt["persona"] == "astrologer"
    assert client.get(f"/prompts/{prompt['id']}", headers=auth).json == prompt
    assert prompt["id"] in [p["id"] for p in client.get("/prompts", headers=auth).json]
    assert client.delete(f"/prompts/{prompt['id']}", headers=auth).json["deleted"] is True
    assert client.get(f"/prompts/{prompt['id']}", headers=auth).status_code == 404


def test_prompt_bad_input(client, auth):
    assert client.post("/prompts", json={}, headers=auth).status_code == 422
    response = client.post("/prompts", json={"value": "v", "parameters": "sign"}, headers=auth)
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"] == ["body", "parameters"]


def test_other_owners_prompt_is_404(client, auth, make_user):
    prompt = client.post("/prompts", json={"value": "v"}, headers=auth).json
    _, key = make_user()
    assert client.get(f"/prompts/{prompt['id']}", headers={"X-API-Key": key}).status_code == 404
    assert client.get(f"/prompts/{uuid.uuid4()}", headers=auth).status_code == 404


def test_generative_endpoints_are_501(client, auth):
    project = client.post("/projects", json={"name": "n", "description": "d"}, headers=auth).json
    for path in ("/prompts/generate", f"/projects/{project['id']}/{uuid.uuid4()}/generate",
                 f"/projects/{project['id']}/{uuid.uuid4()}/prompt"):
        response = client.post(path, json={}, headers=auth)
        assert response.status_code == 501
        assert "not part of Canopy" in response.json["detail"]
