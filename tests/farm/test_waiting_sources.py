"""The most common flow: upload with the published client, post the edit at once (the
sources are still being analysed), and the render starts when they are."""
from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager

import requests
from sqlalchemy import select

from shared.models import RenderJob
from shared.states import JobState
from tests.conftest import FETCH_TEST_HOST
from tests.farm.conftest import wait_finished
from tests.mediakit import make_video
from tests.render.measure import read_video


def one_clip(video_id: str) -> dict:
    return {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": "160x90", "video_output_fps": 30,
            "video_output_filename": "quick.mp4", "audio_overlay": [],
            "video_series_sequential": [{"video_id": video_id, "type": "videofile",
                                         "video_start_time": 0, "video_end_time": 1.5}]}


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


@contextmanager
def gated_file(path, gate: threading.Event):
    """Serves `path` on FETCH_TEST_HOST, each answer held until `gate` is set; yields its URL."""
    class Held(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            gate.wait(60)
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer((FETCH_TEST_HOST, 0), Held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{FETCH_TEST_HOST}:{server.server_address[1]}/{path.name}"
    finally:
        gate.set()
        server.shutdown()
        server.server_close()


def test_a_render_waits_for_a_url_fetch_in_progress(vj, api, db, tmp_path):
    """The fetch is held until the render was posted: the render must wait, then run."""
    gate = threading.Event()
    with gated_file(make_video(tmp_path / "far.mp4", duration=2.0), gate) as url:
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
