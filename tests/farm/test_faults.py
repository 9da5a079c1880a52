"""Faults: each ends with exactly one finished asset per job and nothing lost or duplicated.

Every test runs a farm of its own (tests/fixtures/faults.py) and breaks one part of it for real.
"""
from __future__ import annotations

import time

import requests

from shared.models import VideoFile
from shared.queue import RENDER_TASK, make_celery
from shared.storage import open_storage
from shared.states import JobState, MediaState
from tests.fixtures.faults import kill, prepare
from tests.fixtures.farm import upload_source
from tests.fixtures.livesrv import MotoS3, wait_for
from tests.fixtures.mediakit import PALETTE, make_video, nearest_color
from tests.fixtures.measure import read_video


def test_kill_9_the_rendering_process(make_farm, fault_source, tmp_path):
    setup = prepare(make_farm(), fault_source)
    setup.hold()
    asset_id = setup.submit()
    [held] = setup.held(asset_id)
    kill(setup.job(asset_id).worker_id, held)  # mid-render: it holds after its first frame
    setup.release()

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
    setup.hold()
    asset_id = setup.submit()
    setup.held(asset_id)
    farm.workers[0].kill()
    setup.release()
    farm.add_worker()

    done = setup.finished(asset_id)
    assert done["status"] == JobState.UPLOADED, done
    assert setup.job(asset_id).attempt == 2
    assert setup.stored_files(asset_id) == ["attempt-2/out.mp4"]


def test_redis_restarted_with_jobs_queued_and_running(make_farm, fault_source):
    farm = make_farm()
    setup = prepare(farm, fault_source)
    setup.hold()  # the first is held mid-render while Redis goes, the others queued
    assets = [setup.submit(seconds=12, resolution="1280x720") for _ in range(3)]
    setup.held(assets[0])
    farm.redis.stop()  # no persistence: every queued message is gone
    farm.redis.start()
    setup.release()

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
        setup.hold()
        asset_id = setup.submit(seconds=20, resolution="1280x720")
        setup.held(asset_id)  # sources fetched: the render is under way
        s3.stop()
        setup.release()
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
    """The render is held mid-way (never released): the cancel is heard through the lease
    as the render loop hears it, however fast the machine renders."""
    setup = prepare(make_farm(), fault_source)
    setup.hold()
    asset_id = setup.submit()
    setup.held(asset_id)
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
