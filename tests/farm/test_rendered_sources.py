"""Renders of renders with the published client: each posted at once after the one it
cuts from (which may still be rendering), each decoded for its frames and colours."""
from __future__ import annotations

import pytest
import requests

from shared.states import JobState
from tests.fixtures.edits import clip, make_edit, overlay as music
from tests.fixtures.farm import upload, wait_finished
from tests.fixtures.mediakit import PALETTE, make_video, nearest_color
from tests.fixtures.measure import read_audio, read_video, tone_amplitude

RED, GREEN, BLUE = PALETTE[:3]


def cut(source_id: str, start: float, end: float, name: str, overlay: str | None = None,
        kind: str = "asset") -> dict:
    """One clip of the source (a render: type `asset`; a library file: `kind="videofile"`)
    at 64x36, 10 fps."""
    return make_edit([clip(source_id, start, end, kind=kind)],
                     [music(overlay)] if overlay else [], resolution="64x36", fps=10,
                     filename=f"{name}.mp4")


def downloaded(vj, api, asset_id, path) -> str:
    done = wait_finished(api, asset_id, timeout=180)
    assert done["status"] == JobState.UPLOADED, done
    assert vj.assets.get(asset_id).status == JobState.UPLOADED  # the client's model reads it
    return vj.assets.download(asset_id, str(path))


def seconds_of_colour(path) -> list:
    track = read_video(path)
    return [nearest_color(track.colors[i][0]) for i in range(0, track.frames, 10)], track


def test_a_render_of_a_render_of_a_render(vj, api, tmp_path):
    source = make_video(tmp_path / "rgb.mp4", size=(64, 36), fps=10, duration=3,
                        colors_per_second=[RED, GREEN, BLUE], tone_hz=440)
    video_id = upload(vj, source)
    project = vj.projects.create("Chain", "renders of renders")
    first = vj.projects.render_edit(project.id, cut(video_id, 0, 3, "first",
                                                    kind="videofile"))["asset_id"]
    # Posted at once: each waits for the render it cuts from, if that one is still running.
    muted = cut(first, 1, 3, "second", overlay=first)  # its sound: only the overlay's
    muted["video_series_sequential"][0]["audio_levels"] = [{"audio_level": 0}]
    second = vj.projects.render_edit(project.id, muted)["asset_id"]
    third = vj.projects.render_edit(project.id, cut(second, 1, 2, "third"))["asset_id"]

    colours, track = seconds_of_colour(downloaded(vj, api, third, tmp_path / "third.mp4"))
    assert track.frames == 10 and colours == [BLUE]
    colours, track = seconds_of_colour(downloaded(vj, api, second, tmp_path / "second.mp4"))
    assert track.frames == 20 and colours == [GREEN, BLUE]
    samples, rate, _ = read_audio(tmp_path / "second.mp4")
    # the overlay, the first render's sound (the source's 440 Hz at 0.5), the clip muted
    assert 0.4 < tone_amplitude(samples, 440, rate, 0.5) < 0.6
    assert 0.4 < tone_amplitude(samples, 440, rate, 1.2) < 0.6

    generated = [a.id for a in vj.assets.list_generated_for_project(project.id)]
    assert {first, second, third} <= set(generated)


def test_a_render_named_as_a_video_file_is_refused_with_the_type_to_use(vj, api, tiny_source):
    project = vj.projects.create("Mistyped", "a render named as a video file")
    first = vj.projects.render_edit(project.id, cut(tiny_source, 0, 1, "tiny",
                                                    kind="videofile"))["asset_id"]
    body = cut(first, 0, 1, "again")
    body["video_series_sequential"][0]["type"] = "videofile"
    with pytest.raises(requests.HTTPError) as refused:
        vj.projects.render_edit(project.id, body)
    assert refused.value.response.status_code == 422
    detail = refused.value.response.json()["detail"][0]
    assert detail["loc"] == ["body", "video_series_sequential", 0, "type"]
    assert detail["msg"].endswith('name it with type "asset"')
    assert wait_finished(api, first)["status"] == JobState.UPLOADED
