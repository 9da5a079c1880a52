"""The published `videojungle` client, unchanged, against Canopy served by gunicorn."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from videojungle import ApiClient

from shared.config import REPO_ROOT
from tests.fixtures.livesrv import settings_env


@pytest.fixture
def vj(live_server, make_user, monkeypatch):
    _, key = make_user()
    # The client reads its server from a class attribute: point it at the live Canopy.
    monkeypatch.setattr(ApiClient, "BASE_URL", live_server.url)
    return ApiClient(key)


def test_client_projects_and_prompts(vj):
    prompt = vj.prompts.create("A tour of {city}", ["city"], name="tour", persona="guide")
    assert prompt.parameters == ["city"] and vj.prompts.get(prompt.id).name == "tour"

    project = vj.projects.create("Trailer", "made by the client", prompt_id=prompt.id)
    assert project.name == "Trailer" and project.data == "prompt-to-video"
    assert project.prompts[0]["id"] == prompt.id

    listed = vj.projects.list()
    assert project.id in [p.id for p in listed]
    assert vj.projects.get(project.id).asset_count == 0
    assert vj.user_account.info().email.endswith("@example.com")

    assert vj.projects.delete(project.id)["deleted"] is True
    assert project.id not in [p.id for p in vj.projects.list()]
    with pytest.raises(requests.HTTPError) as err:
        vj.projects.get(project.id)
    assert err.value.response.status_code == 404
    assert vj.prompts.delete(prompt.id)["deleted"] is True


def test_seed_curl_calls(live_server, make_user):
    """`curl -H 'Authorization: Bearer KEY' -d name=... -d description=...` then `?limit=10`."""
    _, key = make_user()
    headers = {"Authorization": f"Bearer {key}"}
    created = requests.post(
        f"{live_server.url}/projects", headers=headers,
        data={"name": "My Project", "description": "A description"}, timeout=10,
    )
    assert created.status_code == 201 and created.json()["name"] == "My Project"
    listed = requests.get(f"{live_server.url}/projects?limit=10", headers=headers, timeout=10)
    assert listed.status_code == 200 and listed.json()[0]["id"] == created.json()["id"]
    assert requests.get(f"{live_server.url}/projects", timeout=10).status_code == 401


def test_create_user_prints_the_key_last(settings, live_server):
    """`make user EMAIL=...` runs this command; its last line is a working key."""
    out = subprocess.run(
        [sys.executable, "-m", "shared.cli", "create-user", "cli-user@example.com"],
        cwd=REPO_ROOT, env=settings_env(settings), capture_output=True, text=True, check=True,
    )
    key = out.stdout.strip().splitlines()[-1]
    me = requests.get(f"{live_server.url}/users/me", headers={"X-API-Key": key}, timeout=10)
    assert me.status_code == 200 and me.json()["email"] == "cli-user@example.com"
