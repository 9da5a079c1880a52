"""Edit validation over HTTP: every rule broken once → 422 naming the field; nothing stored."""
from __future__ import annotations

import copy
import uuid

import pytest
from sqlalchemy import select

from shared import jobs
from shared.models import Asset, Edit, RenderJob, VideoFile
from shared.states import JobState, MediaState
from tests.fixtures.edits import clip, make_edit, overlay


@pytest.fixture
def sources(db, make_user):
    """A user with two analysed video files (10 s and 20 s) and an image, without a worker."""
    user_id, key = make_user()
    rows = {
        "ten": VideoFile(owner_id=user_id, name="ten", filename="ten.mp4", media_kind="video",
                         duration=10.0, fps=30, width=320, height=180, video_codec="h264",
                         audio_codec="aac", status=MediaState.ANALYZED, storage_key=f"{user_id}/v/ten.mp4"),
        "twenty": VideoFile(owner_id=user_id, name="twenty", filename="twenty.mp4", media_kind="video",
                            duration=20.0, fps=25, width=320, height=180, video_codec="h264",
                            audio_codec=None, status=MediaState.ANALYZED, storage_key=f"{user_id}/v/20.mp4"),
        "still": VideoFile(owner_id=user_id, name="still", filename="still.png", media_kind="image",
                           width=320, height=180, video_codec="png", status=MediaState.ANALYZED,
                           storage_key=f"{user_id}/v/still.png"),
    }
    with db.session() as session:
        session.add_all(rows.values())
    return {"headers": {"X-API-Key": key}, **{name: row.id for name, row in rows.items()}}


def edit_for(sources, **top):
    """One clip of the 10 s source with its level, the same source as music; deferred."""
    return make_edit([clip(sources["ten"], "00:00:01", "00:00:05.500000",
                           levels=[("0.5", None, None)])],
                     [overlay(sources["ten"], levels=[1])], resolution="320x180",
                     **{"skip_rendering": True, **top})


@pytest.fixture
def project(client, sources):
    return client.post("/projects", json={"name": "p", "description": "d"},
                       headers=sources["headers"]).json


def post_edit(client, sources, project, body):
    return client.post(f"/projects/{project['id']}/create-edit", json=body, headers=sources["headers"])


def test_valid_deferred_edit_is_stored_with_warnings(client, sources, project):
    body = edit_for(sources, colour="blue", subtitles=True)
    response = post_edit(client, sources, project, body)
    assert response.status_code == 200, response.json
    assert response.json["asset_id"] is None
    edit = client.get(f"/projects/{project['id']}/edits/{response.json['edit_id']}",
                      headers=sources["headers"]).json
    assert edit["data"] == body
    assert any("colour" in w for w in edit["warnings"]) and any("subtitles" in w for w in edit["warnings"])


def broken(path, value):
    """An edit transformer setting `path` (a list of keys) to `value` (or deleting it)."""

    def apply(body):
        target = body
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return body

    return apply


CLIP = ["video_series_sequential", 0]

CASES = [
    (broken(["video_edit_version"], "2.0"), ["body", "video_edit_version"]),
    (broken(["video_output_format"], "avi"), ["body", "video_output_format"]),
    (broken(["video_output_resolution"], "1921x1080"), ["body", "video_output_resolution"]),
    (broken(["video_output_resolution"], "8000x8000"), ["body", "video_output_resolution"]),
    (broken(["video_output_resolution"], "big"), ["body", "video_output_resolution"]),
    (broken(["video_output_fps"], 0), ["body", "video_output_fps"]),
    (broken(["video_output_fps"], 240), ["body", "video_output_fps"]),
    (broken(["video_output_filename"], ""), ["body", "video_output_filename"]),
    (broken(["video_series_sequential"], []), ["body", "video_series_sequential"]),
    (broken(["video_series_sequential"], KeyError), ["body", "video_series_sequential"]),
    (broken([*CLIP, "video_id"], "not-a-uuid"), ["body", *CLIP, "video_id"]),
    (broken([*CLIP, "type"], "movie"), ["body", *CLIP, "type"]),
    (broken([*CLIP, "video_start_time"], "-00:00:01"), ["body", *CLIP, "video_start_time"]),
    (broken([*CLIP, "video_start_time"], "soon"), ["body", *CLIP, "video_start_time"]),
    (broken([*CLIP, "video_start_time"], "٣"), ["body", *CLIP, "video_start_time"]),
    (broken([*CLIP, "video_end_time"], "00:00:00.5"), ["body", *CLIP, "video_end_time"]),
    (broken([*CLIP, "audio_levels", 0, "audio_level"], "loud"), ["body", *CLIP, "audio_levels", 0, "audio_level"]),
    (broken([*CLIP, "audio_levels", 0, "audio_level"], 3), ["body", *CLIP, "audio_levels", 0, "audio_level"]),
    (broken([*CLIP, "crop"], {"zoom": 20}), ["body", *CLIP, "crop", "zoom"]),
    (broken([*CLIP, "crop"], {"position_x": 2}), ["body", *CLIP, "crop", "position_x"]),
    (broken(["audio_overlay", 0, "audio_id"], 5), ["body", "audio_overlay", 0, "audio_id"]),
    (broken(["auto_vertical_crop"], "extreme"), ["body", "auto_vertical_crop"]),
    (broken(["render_options"], {"encoder": "tpu"}), ["body", "render_options", "encoder"]),
    (broken(["render_options"], {"chunk_seconds": 1.5}), ["body", "render_options", "chunk_seconds"]),
    (broken(["render_options"], {"preview": "true"}), ["body", "render_options", "preview"]),
]


@pytest.mark.parametrize("breaks, loc", CASES)
def test_each_rule_broken_names_its_field(client, sources, project, breaks, loc):
    response = post_edit(client, sources, project, breaks(copy.deepcopy(edit_for(sources))))
    assert response.status_code == 422, response.json
    locs = [e["loc"] for e in response.json["detail"]]
    assert any(found[: len(loc)] == loc for found in locs), locs


OVERLAY = ["audio_overlay", 0]
HUGE = 10**400  # a bare JSON integer no float holds


@pytest.mark.parametrize("path", [
    [*CLIP, "video_start_time"], [*CLIP, "video_end_time"],
    [*CLIP, "audio_levels", 0, "start_time"], [*CLIP, "audio_levels", 0, "end_time"],
    [*CLIP, "audio_levels", 0, "audio_level"], [*CLIP, "crop", "zoom"],
    [*OVERLAY, "audio_start_time"], [*OVERLAY, "audio_end_time"], [*OVERLAY, "source_start_time"],
    [*OVERLAY, "audio_levels", 0, "start_time"], [*OVERLAY, "audio_levels", 0, "end_time"],
    ["video_output_fps"], ["render_options", "crf"],
], ids=lambda path: ".".join(map(str, path)))
@pytest.mark.parametrize("value", [HUGE, -HUGE, "9" * 400 + ":00:00", "9" * 400 + ":00"],
                         ids=["huge", "-huge", "huge-hours", "huge-minutes"])
def test_numbers_too_large_for_a_float_name_their_field(client, sources, project, path, value):
    body = copy.deepcopy(edit_for(sources))
    body[CLIP[0]][0]["crop"] = {"zoom": 1.0}
    body["render_options"] = {"crf": 20}
    response = post_edit(client, sources, project, broken(path, value)(body))
    assert response.status_code == 422, response.json
    assert ["body", *path] in [e["loc"] for e in response.json["detail"]]


@pytest.mark.parametrize(
    "breaks, loc",
    [
        (broken([*CLIP, "video_id"], str(uuid.uuid4())), ["body", *CLIP, "video_id"]),
        (lambda b: broken([*CLIP, "video_start_time"], "00:00:12")(broken([*CLIP, "video_end_time"], None)(b)),
         ["body", *CLIP, "video_start_time"]),
        (broken([*CLIP, "video_end_time"], "00:00:11"), ["body", *CLIP, "video_end_time"]),
        (broken(["audio_overlay", 0, "audio_id"], "TWENTY"), ["body", "audio_overlay", 0, "audio_id"]),
    ],
)
def test_rules_that_need_the_sources(client, sources, project, breaks, loc):
    body = breaks(copy.deepcopy(edit_for(sources)))
    if body["audio_overlay"][0]["audio_id"] == "TWENTY":  # a source without audio
        body["audio_overlay"][0]["audio_id"] = sources["twenty"]
    response = post_edit(client, sources, project, body)
    assert response.status_code == 422, response.json
    assert loc in [e["loc"] for e in response.json["detail"]]


def test_an_image_clip_past_the_output_cap_is_422(client, sources, project):
    body = edit_for(sources)
    body["video_series_sequential"][0].update(video_id=sources["still"], video_start_time=0,
                                              video_end_time=1e9)
    response = post_edit(client, sources, project, body)
    assert response.status_code == 422, response.json
    [error] = response.json["detail"]
    assert error["loc"] == ["body", *CLIP, "video_end_time"]
    assert "CANOPY_MAX_OUTPUT_SECONDS" in error["msg"]


def test_end_just_past_the_source_is_clamped_with_a_warning(client, sources, project):
    body = edit_for(sources)
    body["video_series_sequential"][0]["video_end_time"] = "00:00:10.300"
    response = post_edit(client, sources, project, body)
    assert response.status_code == 200
    edit = client.get(f"/projects/{project['id']}/edits/{response.json['edit_id']}",
                      headers=sources["headers"]).json
    assert any("clamped" in w for w in edit["warnings"])


def test_another_owners_media_is_unknown(client, sources, project, make_user):
    _, key = make_user()
    other = {"X-API-Key": key}
    theirs = client.post("/projects", json={"name": "p", "description": "d"}, headers=other).json
    response = client.post(f"/projects/{theirs['id']}/create-edit", json=edit_for(sources), headers=other)
    assert response.status_code == 422
    assert response.json["detail"][0]["msg"] == "unknown video_id"
    assert client.post(f"/projects/{project['id']}/create-edit", json=edit_for(sources),
                       headers=other).status_code == 404


def test_bad_edits_store_nothing(client, sources, project, db):
    body = edit_for(sources, video_output_fps=0, skip_rendering=False)
    assert post_edit(client, sources, project, body).status_code == 422
    with db.session() as session:
        assert session.query(Edit).filter_by(project_id=project["id"]).count() == 0
        assert session.query(Asset).filter_by(project_id=project["id"]).count() == 0
        assert session.query(RenderJob).filter_by(owner_id=project["owner_id"]).count() == 0


def test_malformed_and_non_object_bodies(client, sources, project):
    url = f"/projects/{project['id']}/create-edit"
    bad = client.post(url, data="{", content_type="application/json", headers=sources["headers"])
    assert bad.status_code == 400
    assert client.post(url, json=[1, 2], headers=sources["headers"]).status_code == 422


def test_put_validates_like_create(client, sources, project):
    edit_id = post_edit(client, sources, project, edit_for(sources)).json["edit_id"]
    url = f"/projects/{project['id']}/edits/{edit_id}"
    assert client.put(url, json=edit_for(sources, video_output_format="gif"),
                      headers=sources["headers"]).status_code == 422
    updated = client.put(url, json=edit_for(sources, video_output_filename="new.mp4"),
                         headers=sources["headers"])
    assert updated.status_code == 200 and updated.json["data"]["video_output_filename"] == "new.mp4"


def test_cancel_answers_409_once_the_render_ended(client, sources, project, db):
    """Canceling an uploaded render said 200 and changed nothing; during the upload it is a
    200 that holds (finalize refuses it)."""
    # On a queue no test worker serves (one may run in this session): the test claims it.
    started = post_edit(client, sources, project, edit_for(
        sources, skip_rendering=False, render_options={"encoder": "gpu"})).json
    cancel = f"/assets/{started['asset_id']}/cancel"
    with db.session() as session:
        job_id = session.execute(select(RenderJob.id).where(
            RenderJob.asset_id == started["asset_id"])).scalar_one()
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.start_upload(session, claim, 30) and jobs.finalize(session, claim, "k", 1)
    refused = client.post(cancel, headers=sources["headers"])
    assert refused.status_code == 409
    assert refused.json == {"detail": "too late to cancel: the render already ended uploaded"}
    assert client.get(f"/assets/{started['asset_id']}", headers=sources["headers"]).json[
        "status"] == JobState.UPLOADED
