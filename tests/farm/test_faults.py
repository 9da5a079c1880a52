"""Faults: each ends with exactly one finished asset per job and nothing lost or duplicated.

Every test runs a farm of its own (Redis, gunicorn, Celery workers) on PostgreSQL, with
3-second leases and a reaper every second, and breaks one part of it for real.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import select

from shared.cli import create_user
from shared.db import Database
from shared.models import Asset, RenderJob, VideoFile
from shared.queue import RENDER_TASK, make_celery
from shared.storage import open_storage
from shared.states import JobState, MediaState
from tests.farm.conftest import wait_finished
from tests.livesrv import ApiCaller, MotoS3, wait_for
from tests.mediakit import PALETTE, make_video, nearest_color
from tests.render.measure import read_video


@dataclass
class Setup:
    farm: object
    api: ApiCaller
    db: Database
    source: str
    project: str

    def submit(self, seconds: int = 20, resolution: str = "1280x720", source: str | None = None) -> str:
        response = self.api("POST", f"/projects/{self.project}/create-edit",
                            json=self.edit(seconds, resolution, source))
        assert response.status_code == 200, response.text
        return response.json()["asset_id"]

    def edit(self, seconds: int = 20, resolution: str = "1280x720", source: str | None = None) -> dict:
        """A one-clip edit of the first `seconds` of the source."""
        return {
            "video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": resolution, "video_output_fps": 30,
            "video_output_filename": "out.mp4", "audio_overlay": [],
            "video_series_sequential": [{
                "video_id": source or self.source, "type": "videofile",
                "video_start_time": 0, "video_end_time": seconds, "audio_levels": []}],
        }

    def job(self, asset_id: str) -> RenderJob:
        with self.db.session() as session:
            return session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()

    def asset(self, asset_id: str) -> Asset:
        with self.db.session() as session:
            return session.get(Asset, asset_id)

    def rendering(self, asset_id: str, past: float = 0.2) -> RenderJob:
        """Wait until the render is under way, `past` of it done; returns the job row."""
        def under_way():
            asset = self.api("GET", f"/assets/{asset_id}/status").json()
            return asset["status"] == JobState.RENDERING and asset["progress"] >= past and self.job(asset_id)

        return wait_for(under_way, 90, f"render of {asset_id} to pass {past:.0%}", interval=0.05)

    def finished(self, asset_id: str, timeout: float = 180) -> dict:
        """The asset once its render ended; on a timeout, the job's row and the workers'
        last log lines say where it stopped (a farm fault is hard to replay)."""
        try:
            return wait_finished(self.api, asset_id, timeout=timeout)
        except TimeoutError as exc:
            job = self.job(asset_id)
            logs = "".join(f"\n--- {path.name}\n" + path.read_text(errors="replace")[-4000:]
                           for path in sorted(self.farm.log_dir.glob("worker*.log")))
            raise AssertionError(f"{exc}: job {job.state}, attempt {job.attempt}, lease "
                                 f"{job.lease_until}, cancel {job.cancel_requested}, error "
                                 f"{job.error!r}{logs}") from None

    def stored_files(self, asset_id: str) -> list[str]:
        """Objects under the asset's folder of the local store."""
        asset = self.asset(asset_id)
        root = Path(self.farm.settings.storage_url[len("file://"):]) / asset.owner_id / asset.project_id / asset_id
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def upload_source(api: ApiCaller, path) -> str:
    created = api("POST", "/video-file", json={"name": path.stem, "filename": path.name}).json()
    with open(path, "rb") as fh:
        assert api("POST", created["upload_url"], files={"file": (path.name, fh)}).status_code == 200
    wait_for(lambda: api("GET", f"/video-file/{created['id']}").json()["current_status"] == MediaState.ANALYZED,
             60, f"probe of {path.name}")
    return created["id"]


def prepare(farm, source_path) -> Setup:
    db = Database(farm.settings.database_url)
    _, key = create_user(db, f"{uuid.uuid4().hex[:10]}@example.com")
    api = ApiCaller(farm.url, key)
    source = upload_source(api, source_path)
    project = api("POST", "/projects", json={"name": "faults", "description": "d"}).json()["id"]
    return Setup(farm, api, db, source, project)


def test_kill_9_the_rendering_process(make_farm, fault_source, tmp_path):
    setup = prepare(make_farm(), fault_source)
    asset_id = setup.submit()
    job = setup.rendering(asset_id)
    os.kill(int(job.worker_id.rsplit(":", 1)[1]), signal.SIGKILL)

    done = setup.finished(asset_id)
    assert done["status"] == JobState.UPLOADED, done
    assert setup.job(asset_id).attempt == 2
    assert setup.stored_files(asset_id) == ["attempt-2/out.mp4"]
    out = tmp_path / "out.mp4"
    out.write_bytes(requests.get(done["download_url"], timeout=30).content)
    assert read_video(out).frames == 600


def test_whole_worker_stopped_then_another_started(make_farm, fault_source):
    farm = make_farm()
    setup = prepare(farm, fault_source)
    asset_id = setup.submit()
    setup.rendering(asset_id)
    farm.workers[0].kill()
    farm.add_worker()

    done = setup.finished(asset_id)
    assert done["status"] == JobState.UPLOADED, done
    assert setup.job(asset_id).attempt == 2
    assert setup.stored_files(asset_id) == ["attempt-2/out.mp4"]


def test_redis_restarted_with_jobs_queued_and_running(make_farm, fault_source):
    farm = make_farm()
    setup = prepare(farm, fault_source)
    # Long enough that the first is still rendering when Redis goes (~3 s each here).
    assets = [setup.submit(seconds=12, resolution="1280x720") for _ in range(3)]
    setup.rendering(assets[0], past=0.1)
    farm.redis.stop()  # no persistence: every queued message is gone
    farm.redis.start()

    for asset_id in assets:
        assert setup.finished(asset_id)["status"] == JobState.UPLOADED
        assert len(setup.stored_files(asset_id)) == 1
    project = setup.api("GET", f"/projects/{setup.project}").json()
    assert project["asset_count"] == 3


def test_s3_down_during_upload_fails_and_never_claims_an_object(make_farm, fault_source, tmp_path):
    s3 = MotoS3(tmp_path)
    s3.start()
    try:
        setup = prepare(make_farm(storage_url=s3.url), fault_source)
        # 600 frames at 720p: long enough (1 s and more) for a poll to see it under way.
        asset_id = setup.submit(seconds=20, resolution="1280x720")
        setup.rendering(asset_id, past=0.05)  # sources fetched: the render is under way
        s3.stop()
        done = setup.finished(asset_id, timeout=240)
    finally:
        s3.stop()
    assert done["status"] == JobState.FAILED and done["uploaded"] is False, done
    assert "could not store the render" in done["error"], done["error"]
    assert done["download_url"] is None and setup.asset(asset_id).storage_key is None
    assert setup.job(asset_id).attempt == 1  # the upload was retried, the render was not


def test_an_edit_that_always_crashes_stops_after_three_attempts(make_farm, fault_source, tmp_path):
    farm = make_farm()
    setup = prepare(farm, fault_source)
    doomed_source = upload_source(setup.api, make_video(tmp_path / "doomed.mp4", duration=5))
    with setup.db.session() as session:
        key = session.get(VideoFile, doomed_source).storage_key
    open_storage(farm.settings).delete(key)  # every attempt's download now fails

    doomed = setup.submit(seconds=4, resolution="320x180", source=doomed_source)
    healthy = setup.submit(seconds=4, resolution="320x180")
    done = setup.finished(doomed, timeout=120)
    assert done["status"] == JobState.FAILED and "no stored object" in done["error"], done
    assert setup.job(doomed).attempt == 3
    assert setup.finished(healthy)["status"] == JobState.UPLOADED


def test_a_source_rewritten_after_analysis_is_refused_until_analysed_again(
        make_farm, fault_source, tmp_path):
    """A direct-upload link stays valid for its lifetime: bytes put after the probe must
    not be rendered as if analysed (nor cached under the analysed file's hash)."""
    farm = make_farm()
    setup = prepare(farm, fault_source)
    with setup.db.session() as session:
        key = session.get(VideoFile, setup.source).storage_key
    other = make_video(tmp_path / "other.mp4", size=(320, 180), duration=5,
                       colors_per_second=[PALETTE[6]])
    open_storage(farm.settings).put_file(key, other)  # what the reused link would do

    refused = setup.submit(seconds=4, resolution="320x180")
    done = setup.finished(refused)
    assert done["status"] == JobState.FAILED, done
    assert f"source {setup.source}: its stored file changed after it was analysed" in done["error"]
    assert setup.job(refused).attempt == 1  # not retried: another try cannot help

    assert setup.api("POST", f"/video-file/{setup.source}/analysis").status_code == 200
    wait_for(lambda: setup.api("GET", f"/video-file/{setup.source}").json()["current_status"]
             == MediaState.ANALYZED, 60, "the second probe")
    again = setup.submit(seconds=4, resolution="320x180")
    assert setup.finished(again)["status"] == JobState.UPLOADED
    out = tmp_path / "again.mp4"
    out.write_bytes(requests.get(setup.api("GET", f"/assets/{again}").json()["download_url"]).content)
    track = read_video(out)
    assert track.frames == 120
    assert {nearest_color(c[0]) for c in track.colors} == {PALETTE[6]}  # the new bytes


def test_cancel_mid_render(make_farm, fault_source):
    setup = prepare(make_farm(), fault_source)
    asset_id = setup.submit()
    setup.rendering(asset_id)
    asked = time.monotonic()
    response = setup.api("POST", f"/assets/{asset_id}/cancel")
    assert response.status_code == 200
    done = setup.finished(asset_id, timeout=30)
    waited = time.monotonic() - asked
    assert done["status"] == JobState.CANCELED, done
    assert waited < 5, f"the render loop took {waited:.1f}s to stop"
    assert setup.stored_files(asset_id) == []
    assert setup.job(asset_id).state == JobState.CANCELED


def test_two_workers_racing_for_one_job(make_farm, fault_source):
    farm = make_farm(workers=2)
    setup = prepare(farm, fault_source)
    asset_id = setup.submit(seconds=6, resolution="640x360")
    # A duplicate message, as a re-send after a lost acknowledgement would make.
    make_celery(farm.settings).send_task(RENDER_TASK, args=[setup.job(asset_id).id], queue="render.cpu")

    done = setup.finished(asset_id)
    assert done["status"] == JobState.UPLOADED
    assert setup.job(asset_id).attempt == 1
    assert setup.stored_files(asset_id) == ["attempt-1/out.mp4"]
