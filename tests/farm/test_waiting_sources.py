"""The most common flow: upload with the published client, post the edit at once (the
sources are still being analysed), and the render starts when they are."""
from __future__ import annotations

import threading

import requests
from sqlalchemy import select

from shared.models import RenderJob
from shared.states import JobState
from tests.fixtures.edits import clip, make_edit
from tests.fixtures.farm import FETCH_TEST_HOST, wait_finished
from tests.fixtures.livesrv import held_file
from tests.fixtures.mediakit import make_video
from tests.fixtures.measure import read_video


def one_clip(video_id: str) -> dict:
    return make_edit([clip(video_id, 0, 1.5)], filename="quick.mp4")


def test_render_right_after_the_upload(vj, api, tmp_path):
    source = make_video(tmp_path / "fresh.mp4", duration=2.0)
    video = vj.video_files.create("Fresh", str(source))  # uploaded; its probe has just been sent
    project = vj.projects.create("Quick", "rendered before the probe ended")
    started = vj.projects.render_edit(project.id, one_clip(video.id))

    done = wait_finished(api, started["asset_id"], timeout=120)
    assert done["status"] == JobState.UPLOADED, done
    out = tmp_path / "quick.mp4"
    out.write_bytes(requests.get(done["download_url"], timeout=30).content)
    assert read_video(out).frames == 45


def test_a_render_waits_for_a_url_fetch_in_progress(vj, api, db, tmp_path):
    """The fetch is held until the render was posted: the render must wait, then run."""
    gate = threading.Event()
    with held_file(make_video(tmp_path / "far.mp4", duration=2.0), gate, FETCH_TEST_HOST) as url:
        video = vj.video_files.create("Far", url, upload_method="url")
        project = vj.projects.create("Fetched", "rendered before the fetch ended")
        started = vj.projects.render_edit(project.id, one_clip(video["id"]))
        with db.session() as session:
            assert session.execute(select(RenderJob.state).where(
                RenderJob.asset_id == started["asset_id"])).scalar_one() == JobState.WAITING
        gate.set()
        done = wait_finished(api, started["asset_id"], timeout=120)
    assert done["status"] == JobState.UPLOADED, done
    out = tmp_path / "fetched.mp4"
    out.write_bytes(requests.get(done["download_url"], timeout=30).content)
    assert read_video(out).frames == 45


def test_a_source_that_fails_its_analysis_fails_the_render(vj, api, tmp_path):
    """Junk fails its probe at once: the edit meets it still being analysed (the render then
    fails) or already failed (a 422); either way the answer names the source."""
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    video = vj.video_files.create("Junk", str(junk))
    project = api("POST", "/projects", json={"name": "Doomed", "description": "d"}).json()
    started = api("POST", f"/projects/{project['id']}/create-edit", json=one_clip(video.id))
    if started.status_code == 422:
        error = started.json()["detail"][0]["msg"]
    else:
        done = wait_finished(api, started.json()["asset_id"], timeout=120)
        assert done["status"] == JobState.FAILED, done
        error = done["error"]
    assert error.startswith(f"source {video.id} could not be analysed: not a media file"), error
