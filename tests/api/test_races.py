"""Check-then-write races: a row deleted between a service's check and its write is a 409,
never a 500. The race is made real: another connection deletes the row and commits just
before the request's INSERT reaches the database."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event

from shared.models import Project, Prompt, VideoFile


@contextmanager
def before_insert(app, table: str, action):
    """Run `action()` once, just before the app's first INSERT into `table`."""
    engine = app.extensions["canopy"].db.engine
    fired = []

    def hook(_conn, _cursor, statement, *_args):
        if not fired and statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            fired.append(statement)
            action()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def deleting(db, model, row_id):
    def action():
        with db.session() as session:
            session.execute(delete(model).where(model.id == row_id))
    return action


def test_project_whose_prompt_is_deleted_meanwhile(app, client, auth, db):
    prompt = client.post("/prompts", json={"value": "a cat"}, headers=auth).json
    with before_insert(app, "projects", deleting(db, Prompt, prompt["id"])) as fired:
        response = client.post("/projects", headers=auth, json={
            "name": "p", "description": "d", "prompt_id": prompt["id"]})
    assert fired, "the race did not happen"
    assert response.status_code == 409, response.json
    assert "deleted while it ran" in response.json["detail"]
    assert client.get("/projects", headers=auth).json == []


@pytest.fixture
def project(client, auth):
    return client.post("/projects", json={"name": "p", "description": "d"}, headers=auth).json


def test_video_reference_whose_video_file_is_deleted_meanwhile(app, client, auth, db, project):
    video = client.post("/video-file", json={"name": "v", "filename": "v.mp4"}, headers=auth).json
    with before_insert(app, "assets", deleting(db, VideoFile, video["id"])) as fired:
        response = client.post(f"/projects/{project['id']}/asset", headers=auth, json={
            "upload_method": "video-reference", "asset_type": "video-reference",
            "keyname": video["id"]})
    assert fired and response.status_code == 409, response.json
    assert client.get(f"/projects/{project['id']}/assets", headers=auth).json == []


def test_asset_whose_project_is_deleted_meanwhile(app, client, auth, db, project):
    with before_insert(app, "assets", deleting(db, Project, project["id"])) as fired:
        response = client.post(f"/projects/{project['id']}/asset", headers=auth, json={
            "upload_method": "file-no-chunk", "asset_type": "user", "keyname": "a.mp4"})
    assert fired and response.status_code == 409, response.json
    assert client.get(f"/projects/{project['id']}", headers=auth).status_code == 404
