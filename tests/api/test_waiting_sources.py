"""Edits naming sources still being analysed: accepted; the render waits, then goes on or
fails naming the source. Over HTTP without a worker; the analysis is written as the media
task writes it, then `settle_waiting` runs as the task runs it."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from shared import job_reaping, jobs, waiting_jobs
from shared.models import RenderJob, VideoFile, utcnow
from shared.states import JobState, MediaState
from tests.fixtures.edits import clip, make_edit
from tests.fixtures.jobs import user_with_source
from tests.fixtures.livesrv import ApiCaller, wait_for

BOUNDARY = "canopy-test-boundary"


def one_clip(video_id: str, **top) -> dict:
    """On a queue no test worker serves (one may run in this session): the tests claim."""
    return make_edit([clip(video_id, 0, 1)], resolution="320x180",
                     **{"render_options": {"encoder": "gpu"}, **top})


@pytest.fixture
def caller(client, db, make_user):
    """A user, a project, and a video file whose bytes arrived and whose probe is running."""
    return user_with_source(client, db, make_user, status=MediaState.PROCESSING)


def render(client, caller, body=None):
    return client.post(f"/projects/{caller['project']}/create-edit",
                       json=body or one_clip(caller["video"]), headers=caller["headers"])


def job_of(db, asset_id) -> RenderJob:
    with db.session() as session:
        return session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()


def status(client, caller, asset_id) -> dict:
    return client.get(f"/assets/{asset_id}/status", headers=caller["headers"]).json


def analysis_ends(db, caller, error=None) -> list:
    """What the media task does when the probe ends, then what it sends."""
    with db.session() as session:
        video = session.get(VideoFile, caller["video"])
        if error:
            video.status, video.error = MediaState.FAILED, error
        else:
            video.status, video.media_kind, video.duration = MediaState.ANALYZED, "video", 2.0
            video.video_codec, video.width, video.height = "h264", 320, 180
    with db.session() as session:
        return waiting_jobs.settle_waiting(session, caller["id"])


def test_a_render_waits_queued_then_is_sent_when_its_source_is_analysed(client, db, caller):
    started = render(client, caller)
    assert started.status_code == 200, started.json
    asset_id = started.json["asset_id"]
    assert job_of(db, asset_id).state == JobState.WAITING
    assert status(client, caller, asset_id)["status"] == JobState.QUEUED  # what clients see

    job_id = job_of(db, asset_id).id
    assert analysis_ends(db, caller) == [(job_id, "render.gpu")]
    assert job_of(db, asset_id).state == JobState.QUEUED
    with db.session() as session:
        assert jobs.claim(session, job_id, "w", 30).attempt == 1


def test_a_waiting_render_is_not_claimed_nor_resent(client, db, caller):
    """A stray message (or the reaper) must not start it before its sources are analysed."""
    job_id = job_of(db, render(client, caller).json["asset_id"]).id
    with db.session() as session:
        assert jobs.claim(session, job_id, "w", 30) is None
        reaped = job_reaping.reap(session, 0, now=utcnow() + timedelta(seconds=60))
    assert job_id not in [j for j, _ in reaped.resend]
    with db.session() as session:
        assert session.get(RenderJob, job_id).state == JobState.WAITING


def test_a_failed_analysis_fails_the_render_naming_the_source(client, db, caller):
    asset_id = render(client, caller).json["asset_id"]
    assert analysis_ends(db, caller, error="no audio or video stream") == []
    done = status(client, caller, asset_id)
    assert done["status"] == JobState.FAILED, done
    assert done["error"] == f"source {caller['video']} could not be analysed: no audio or video stream"


def test_a_source_deleted_while_the_render_waits_fails_it(client, db, caller):
    asset_id = render(client, caller).json["asset_id"]
    deleted = client.delete(f"/video-file/{caller['video']}", headers=caller["headers"])
    assert deleted.status_code == 200
    done = status(client, caller, asset_id)
    assert done["status"] == JobState.FAILED and done["error"] == f"source {caller['video']} was deleted"


def test_the_reaper_sends_a_render_whose_send_was_lost(client, db, caller):
    """The analysis ended but its send never happened (the worker died in between)."""
    job_id = job_of(db, render(client, caller).json["asset_id"]).id
    with db.session() as session:
        video = session.get(VideoFile, caller["video"])
        video.status, video.media_kind, video.duration = MediaState.ANALYZED, "video", 2.0
    with db.session() as session:
        assert (job_id, "render.gpu") in job_reaping.reap(session, 300).resend


def test_update_and_render_accept_a_source_being_analysed(client, db, caller):
    stored = render(client, caller, one_clip(caller["video"], skip_rendering=True)).json
    edit_url = f"/projects/{caller['project']}/edits/{stored['edit_id']}"
    updated = client.put(edit_url, json=one_clip(caller["video"], video_output_fps=25),
                         headers=caller["headers"])
    assert updated.status_code == 200, updated.json
    started = client.post(f"{edit_url}/render", headers=caller["headers"])
    assert started.status_code == 200, started.json
    assert job_of(db, started.json["asset_id"]).state == JobState.WAITING


def test_a_waiting_render_is_canceled_at_once(client, db, caller):
    asset_id = render(client, caller).json["asset_id"]
    canceled = client.post(f"/assets/{asset_id}/cancel", headers=caller["headers"])
    assert canceled.status_code == 200 and canceled.json["status"] == JobState.CANCELED
    assert analysis_ends(db, caller) == []
    assert job_of(db, asset_id).state == JobState.CANCELED


def test_a_source_never_uploaded_is_a_422_that_says_so(client, db, caller):
    created = client.post("/video-file", json={"name": "later", "filename": "later.mp4",
                                               "upload_method": "file-no-chunk"},
                          headers=caller["headers"]).json
    refused = render(client, caller, one_clip(created["id"]))
    assert refused.status_code == 422
    assert refused.json["detail"] == [{
        "loc": ["body", "video_series_sequential", 0, "video_id"],
        "msg": f"source {created['id']} is not uploaded yet", "type": "value_error.source"}]


def test_an_unknown_source_is_still_unknown(client, caller):
    refused = render(client, caller, one_clip("0b7e7a8e-5f6c-4d0a-9a57-3d4f2e1c0b9a"))
    assert refused.status_code == 422
    assert refused.json["detail"][0]["msg"] == "unknown video_id"


def test_a_render_waiting_for_an_upload_that_breaks_off_fails(live_server, make_user):
    """The edit is posted while the bytes arrive; then the client goes away mid-upload: the
    render fails at once, naming the source (no reaper runs here to notice it later)."""
    api = ApiCaller(live_server.url, make_user()[1])
    video = api("POST", "/video-file", json={"name": "v", "filename": "v.mp4"}).json()
    project = api("POST", "/projects", json={"name": "p", "description": "d"}).json()
    halfway, break_off = threading.Event(), threading.Event()

    def half_a_file():
        yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"v.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
        yield b"\0" * 512 * 1024
        halfway.set()
        break_off.wait(30)
        raise ConnectionAbortedError("the client went away")

    def send():
        try:
            requests.post(api.base_url + video["upload_url"], data=half_a_file(), timeout=60,
                          headers={**api.headers,
                                   "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        except (ConnectionAbortedError, requests.RequestException):
            pass  # the upload was meant to break off

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert halfway.wait(30)
        wait_for(lambda: api("GET", f"/video-file/{video['id']}").json()["current_status"]
                 == MediaState.PROCESSING, 30, "the upload to be in flight")
        started = api("POST", f"/projects/{project['id']}/create-edit", json=one_clip(video["id"]))
        assert started.status_code == 200, started.text
    finally:
        break_off.set()
        sender.join(60)
    status = f"/assets/{started.json()['asset_id']}/status"
    wait_for(lambda: api("GET", status).json()["status"] != JobState.QUEUED, 30, "the render's end")
    done = api("GET", status).json()
    assert done["status"] == JobState.FAILED, done
    assert done["error"] == f"source {video['id']} is not uploaded yet"
