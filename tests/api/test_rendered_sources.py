"""A finished render as a source, over HTTP without a worker: renders naming one that is
still under way wait and then go on, or fail naming it; one that can never be ready is a
422; every combination of source states is settled (tests/farm/test_rendered_sources.py
renders real chains)."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from shared import jobs, leases, waiting_jobs
from shared.models import GENERATED_VIDEO, Asset, RenderJob, VideoFile
from shared.sources import readiness
from shared.states import (FINISHED, MEDIA_READINESS, RENDER_READINESS, JobState, MediaState,
                           Readiness)
from tests.fixtures.edits import clip as fixture_clip, make_edit, overlay
from tests.fixtures.jobs import user_with_source, video_file


def clip(source_id: str, kind: str = "asset", end: float = 1) -> dict:
    """The first `end` seconds of a render (or of a library file with kind="videofile")."""
    return fixture_clip(source_id, 0, end, kind=kind)


def edit(*clips, overlays=(), **top) -> dict:
    """On the GPU queue, which no test worker serves: the tests play the worker."""
    return make_edit(clips, [overlay(i) for i in overlays], resolution="64x36", fps=10,
                     render_options={"encoder": "gpu"}, **top)


@pytest.fixture
def user(client, db, make_user):
    """A user, a project and an analysed 2 s video file (stream facts written as the probe does)."""
    return user_with_source(client, db, make_user, **ANALYSED)


# An analysed 2 s video file's columns, as the probe writes them.
ANALYSED = dict(status=MediaState.ANALYZED, media_kind="video", duration=2.0, width=64,
                height=36, video_codec="h264", audio_codec="aac")


def analysed_file(owner_id: str, **fields) -> VideoFile:
    return video_file(owner_id, **{**ANALYSED, **fields})


def post(client, user, body):
    return client.post(f"/projects/{user['project']}/create-edit", json=body,
                       headers=user["headers"])


def start(client, user, body) -> str:
    started = post(client, user, body)
    assert started.status_code == 200, started.json
    return started.json["asset_id"]


def job_of(db, asset_id) -> RenderJob:
    with db.session() as session:
        return session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()


def state_of(client, user, asset_id) -> dict:
    return client.get(f"/assets/{asset_id}/status", headers=user["headers"]).json


def claimed(db, asset_id) -> leases.Claim:
    """What a worker does first: claim the render."""
    with db.session() as session:
        return jobs.claim(session, job_of(db, asset_id).id, "test-worker", 60)


def test_a_render_naming_a_render_under_way_waits_then_is_sent_when_it_is_stored(client, db, user):
    first = start(client, user, edit(clip(user["video"], "videofile", 2)))
    claim = claimed(db, first)
    second = start(client, user, edit(clip(first, end=1.5), overlays=[first]))
    third = start(client, user, edit(clip(second, end=1)))
    assert job_of(db, second).state == job_of(db, third).state == JobState.WAITING

    with db.session() as session:  # the worker stores the first render and finalizes it
        assert jobs.start_upload(session, claim, 60)
    with db.session() as session:
        assert jobs.finalize(session, claim, f"{user['id']}/renders/first.mp4", 1000,
                             media_kind="video", duration=2.0, width=64, height=36,
                             video_codec="h264", audio_codec="aac")
    assert job_of(db, second).state == JobState.QUEUED  # sent when the first one's finish committed
    assert job_of(db, third).state == JobState.WAITING  # its source is only queued


def test_a_render_under_way_that_fails_fails_the_chain_waiting_on_it(client, db, user):
    first = start(client, user, edit(clip(user["video"], "videofile", 2)))
    claim = claimed(db, first)
    second = start(client, user, edit(clip(first)))
    third = start(client, user, edit(clip(user["video"], "videofile"), clip(second)))
    with db.session() as session:
        assert jobs.fail(session, claim, "the encoder broke", retry=False) == JobState.FAILED
    done = state_of(client, user, second)
    assert done["status"] == JobState.FAILED
    assert done["error"] == f"source {first} is a render that failed: the encoder broke"
    done = state_of(client, user, third)
    assert done["status"] == JobState.FAILED
    assert done["error"] == f"source {second} is a render that failed: source {first} is a " \
                            "render that failed: the encoder broke"


def test_a_render_canceled_while_another_waits_on_it_fails_that_one(client, db, user):
    first = start(client, user, edit(clip(user["video"], "videofile", 2)))
    second = start(client, user, edit(clip(first)))
    canceled = client.post(f"/assets/{first}/cancel", headers=user["headers"])
    assert canceled.status_code == 200 and canceled.json["status"] == JobState.CANCELED
    done = state_of(client, user, second)
    assert done["status"] == JobState.FAILED
    assert done["error"] == f"source {first} is a render that was canceled"


@pytest.fixture
def renders(db, user) -> dict[str, str]:
    """A render of the user's in each finished state: {state: asset id}."""
    ids = {}
    with db.session() as session:
        for state in FINISHED:
            asset = render_asset(user["id"], user["project"], state, error="it broke")
            session.add(asset)
            session.flush()
            ids[state] = asset.id
    return ids


def render_asset(owner_id: str, project_id: str, state: str, **fields) -> Asset:
    stored = state == JobState.UPLOADED
    return Asset(owner_id=owner_id, project_id=project_id, keyname="r.mp4", filename="r.mp4",
                 asset_type=GENERATED_VIDEO, status=state, uploaded=stored,
                 storage_key=f"{owner_id}/renders/r.mp4" if stored else None, media_kind="video",
                 duration=2.0 if stored else None, **fields)


@pytest.mark.parametrize("state, reason", [
    (JobState.FAILED, "is a render that failed: it broke"),
    (JobState.CANCELED, "is a render that was canceled"),
])
def test_a_render_that_never_finished_is_a_422_naming_it(client, user, renders, state, reason):
    for body, loc in [(edit(clip(renders[state])), ["video_series_sequential", 0, "video_id"]),
                      (edit(clip(user["video"], "videofile"), overlays=[renders[state]]),
                       ["audio_overlay", 0, "audio_id"])]:
        refused = post(client, user, body)
        assert refused.status_code == 422
        assert refused.json["detail"] == [{"loc": ["body", *loc], "type": "value_error.source",
                                           "msg": f"source {renders[state]} {reason}"}]


def test_a_finished_render_renders_at_once(client, db, user, renders):
    """An old render (finished before its stream facts were recorded) is a source too."""
    done = renders[JobState.UPLOADED]
    asset = start(client, user, edit(clip(done, end=2), clip(done, "image", 0.5), overlays=[done]))
    assert job_of(db, asset).state == JobState.QUEUED


def test_a_render_named_as_a_video_file_is_a_422_saying_to_use_asset(client, user, renders):
    done = renders[JobState.UPLOADED]
    refused = post(client, user, edit(clip(user["video"], "videofile"), clip(done, "videofile")))
    assert refused.status_code == 422
    assert refused.json["detail"] == [{
        "loc": ["body", "video_series_sequential", 1, "type"], "type": "value_error.source_type",
        "msg": f'{done} is an asset (an upload or a render), not a video file: name it with '
               f'type "asset"'}]
    refused = post(client, user, edit(clip(user["video"], "asset")))
    assert refused.status_code == 422
    assert refused.json["detail"][0]["msg"].endswith('name it with type "videofile"')


def test_another_owners_render_is_unknown(client, make_user, user, renders):
    _, key = make_user()
    headers = {"X-API-Key": key}
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=headers).json
    refused = client.post(f"/projects/{project['id']}/create-edit", headers=headers,
                          json=edit(clip(renders[JobState.UPLOADED], "videofile")))
    assert refused.status_code == 422
    assert refused.json["detail"][0]["msg"] == "unknown video_id"  # not "use asset": no leak


UNKNOWN = "frozen"  # a status no Canopy writes (a row some other tool wrote)


def test_every_combination_of_source_states_is_settled(db, user):
    """A render waiting on a video file and a render, in every pair of states each can be in
    (and one neither knows): it is queued when both are ready, failed naming the first
    unusable one, and keeps waiting only while one is still under way."""
    media_states = [*MediaState, UNKNOWN]
    render_states = [*JobState, UNKNOWN]
    cases = {}
    with db.session() as session:
        for media_state, render_state in itertools.product(media_states, render_states):
            video = analysed_file(user["id"], status=media_state)
            if media_state == MediaState.WAITING:
                video.storage_key = None  # no bytes yet
            source = render_asset(user["id"], user["project"], render_state)
            output = render_asset(user["id"], user["project"], JobState.QUEUED)
            session.add_all([video, source, output])
            session.flush()
            job = RenderJob(owner_id=user["id"], asset_id=output.id, state=JobState.WAITING,
                            edit_data=edit(clip(video.id, "videofile"), clip(source.id)))
            session.add(job)
            session.flush()
            cases[job.id] = (video, source)
    with db.session() as session:
        waiting_jobs.settle_waiting(session, user["id"])
    with db.session() as session:
        for job_id, (video, source) in cases.items():
            job = session.get(RenderJob, job_id)
            found = [readiness(row) for row in (video, source)]
            unusable = [(row, why) for row, (kind, why) in zip((video, source), found)
                        if kind == Readiness.UNUSABLE]
            if unusable:
                row, why = unusable[0]
                assert (job.state, job.error) == (JobState.FAILED, f"source {row.id} {why}")
            elif all(kind == Readiness.READY for kind, _ in found):
                assert job.state == JobState.QUEUED, (video.status, source.status)
            else:
                assert job.state == JobState.WAITING, (video.status, source.status)


def test_the_readiness_tables_are_total_and_only_a_live_state_is_waited_for():
    assert set(MEDIA_READINESS) == set(MediaState)
    assert set(RENDER_READINESS) == set(JobState)
    for state, kind in RENDER_READINESS.items():
        # a render waits only for a render that will end by itself: it is not finished
        assert (kind == Readiness.PENDING) == (state not in FINISHED), state
    assert [s for s, k in MEDIA_READINESS.items() if k == Readiness.PENDING] == [MediaState.PROCESSING]
