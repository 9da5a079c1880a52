"""Check-then-write races: a row deleted between a service's check and its write is a 409,
never a 500. The race is made real: another connection deletes the row and commits just
before the request's INSERT reaches the database."""
from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, update

from shared.models import Project, Prompt, VideoFile
from shared.states import MediaState


@contextmanager
def before_statement(app, start: str | tuple[str, ...], action):
    """Run `action()` once, just before the app's first statement that starts with `start`
    (or any of them)."""
    engine = app.extensions["canopy"].db.engine
    fired = []

    def hook(_conn, _cursor, statement, *_args):
        starts = (start,) if isinstance(start, str) else start
        if not fired and statement.lstrip().upper().startswith(tuple(s.upper() for s in starts)):
            fired.append(statement)
            action()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def before_insert(app, table: str, action):
    """Run `action()` once, just before the app's first INSERT into `table`."""
    return before_statement(app, f"INSERT INTO {table} ", action)


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


def test_an_upload_refused_after_a_probe_ended_meanwhile_keeps_the_probes_verdict(
        app, client, auth, db):
    """The request finds the file processing (its probe under way); the probe ends before the
    upload claims the file; the upload is then refused (empty). The file keeps what the probe
    found, not the state the request first read: given back, that left it processing for
    ever (and, once media states had a table, answered 500)."""
    video = client.post("/video-file", json={"name": "v", "filename": "v.mp4"}, headers=auth).json
    with db.session() as session:
        session.execute(update(VideoFile).where(VideoFile.id == video["id"]).values(
            status=MediaState.PROCESSING, storage_key=f"{video['id']}/probed.mp4"))
        session.commit()

    def probe_ends():
        with db.session() as session:
            session.execute(update(VideoFile).where(VideoFile.id == video["id"]).values(
                status=MediaState.ANALYZED))
            session.commit()

    claim = ("SELECT video_files.status", "UPDATE video_files SET status")  # its first statement
    with before_statement(app, claim, probe_ends) as fired:
        response = client.post(video["upload_url"], headers=auth,
                               data={"file": (io.BytesIO(b""), "empty.mp4")})
    assert fired, "the upload's claim read no status"
    assert response.status_code == 422, response.json
    assert client.get(f"/video-file/{video['id']}", headers=auth).json["status"] == "analyzed"
