"""Hostile bodies and queries: each a clear 4xx, never a 500, and nothing stored changes."""
from __future__ import annotations

import pytest
from shared.states import MediaState


@pytest.mark.parametrize("path", ["/projects", "/prompts", "/video-file"])
def test_deep_nesting_is_400(client, auth, path):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(path, data=body, content_type="application/json", headers=auth)
    assert response.status_code == 400, response.json


@pytest.mark.parametrize("body", ['{"name": "n", "description": "d", "data": {"x": NaN}}',
                                  '{"name": "n", "description": "d", "data": {"x": Infinity}}'])
def test_nan_and_infinity_are_400(client, auth, body):
    response = client.post("/projects", data=body, content_type="application/json", headers=auth)
    assert response.status_code == 400
    assert "not a JSON number" in response.json["detail"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E+309"])
def test_numbers_past_a_float_are_400(client, auth, number):
    """json.loads reads them as Infinity, which no JSON answer can carry afterwards."""
    body = f'{{"name": "n", "description": "d", "data": {{"x": {number}}}}}'
    response = client.post("/projects", data=body, content_type="application/json", headers=auth)
    assert response.status_code == 400, response.json
    assert number in response.json["detail"]
    listed = client.get("/projects", headers=auth)
    assert listed.status_code == 200 and listed.json == []


def test_lone_surrogates_are_400(client, auth):
    """A JSON "\\udc00" parses to a str that UTF-8 cannot encode: no text field may hold it."""
    body = '{"name": "n", "description": "d", "data": {"x": "a\\udc00b"}}'
    response = client.post("/projects", data=body, content_type="application/json", headers=auth)
    assert response.status_code == 400, response.json
    assert "surrogate" in response.json["detail"]
    assert client.get("/projects", headers=auth).json == []


@pytest.mark.parametrize("as_form", [False, True])
def test_nul_characters_are_400(client, auth, as_form):
    fields = {"name": "bad\x00name", "description": "d"}
    response = (client.post("/projects", data=fields, headers=auth) if as_form
                else client.post("/projects", json=fields, headers=auth))
    assert response.status_code == 400
    prompt = client.post("/prompts", json={"value": "v\x00"}, headers=auth)
    assert prompt.status_code == 400


def test_json_bodies_are_capped(client, auth):
    response = client.post("/projects", json={"name": "n", "description": "d",
                                              "data": {"blob": "x" * 2_000_000}}, headers=auth)
    assert response.status_code == 413
    assert client.get("/projects", headers=auth).json == []


@pytest.mark.parametrize("page", ["99999999999999999999", "4611686018427387904", "1000001"])
def test_absurd_page_numbers_are_422(client, auth, page):
    response = client.get(f"/projects?page={page}", headers=auth)
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"] == ["query", "page"]


def test_methods_not_allowed_are_json(client, auth):
    response = client.patch("/projects", headers=auth)
    assert response.status_code == 405 and response.json == {"detail": "Method Not Allowed"}


def test_create_edit_accepts_json_sent_as_text(client, auth):
    project = client.post("/projects", json={"name": "n", "description": "d"}, headers=auth).json
    response = client.post(f"/projects/{project['id']}/create-edit", data='{"video_edit_version": "2"}',
                           content_type="text/plain", headers=auth)
    assert response.status_code == 422  # parsed as JSON, then refused for its content


def test_a_malformed_multipart_upload_says_what_is_wrong(client, auth):
    created = client.post("/video-file", json={"name": "x", "filename": "a.mp4"}, headers=auth).json
    boundary = "b0undary"
    cut = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n"
           f"\r\n").encode() + b"\0" * 5000  # no closing boundary: the body ends mid-file
    response = client.post(created["upload_url"], data=cut, headers=auth,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert response.json == {"detail": "the multipart body is malformed or incomplete"}
    assert client.get(f"/video-file/{created['id']}", headers=auth).json["current_status"] == MediaState.WAITING
