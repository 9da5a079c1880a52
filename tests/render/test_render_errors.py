"""The engine's contract around a render: progress, cancel, and errors a user can act on."""
from __future__ import annotations

import os
import uuid

import pytest

import worker.render.encode as encode
from shared.edit import parse_edit
from tests.fixtures.mediakit import make_video
from worker.render import (GpuUnavailableError, InvalidEditError, MissingSourceError,
                           OutputNotWritableError, RenderCanceled, SourceDecodeError, render)
from worker.render.prefetch import Prefetch

from tests.fixtures.edits import clip, make_edit, overlay


def _edit(body):
    return parse_edit(body)[0]


def _paths(media):
    return {source_id: path for source_id, path in media.values()}


def test_progress_counts_frames_and_ends_at_the_total(media, tmp_path):
    calls = []
    edit = _edit(make_edit([clip(media["a30"][0], 0, 2)]))
    render(edit, _paths(media), str(tmp_path / "o.mp4"),
           on_progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (60, 60)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) <= 10  # a few times a second at most, not once a frame


def test_cancel_stops_within_a_few_frames_and_leaves_no_file(media, tmp_path):
    asked = []

    def should_cancel():
        asked.append(1)
        return len(asked) >= 3

    edit = _edit(make_edit([clip(media["a30"][0], 0, 5)]))
    with pytest.raises(RenderCanceled):
        render(edit, _paths(media), str(tmp_path / "o.mp4"), should_cancel=should_cancel)
    assert len(asked) == 3
    assert os.listdir(tmp_path) == []


def test_an_id_without_a_source_file(media, tmp_path):
    stranger = str(uuid.uuid4())
    edit = _edit(make_edit([clip(media["a30"][0], 0, 1), clip(stranger, 0, 1)]))
    with pytest.raises(MissingSourceError) as info:
        render(edit, _paths(media), str(tmp_path / "o.mp4"))
    assert info.value.clip_index == 1 and info.value.source_id == stranger
    edit = _edit(make_edit([clip(media["a30"][0], 0, 1)], [overlay(stranger)]))
    with pytest.raises(MissingSourceError):
        render(edit, _paths(media), str(tmp_path / "o.mp4"))


def test_an_output_directory_that_cannot_be_written(media, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    edit = _edit(make_edit([clip(media["a30"][0], 0, 1)]))
    with pytest.raises(OutputNotWritableError):
        render(edit, _paths(media), str(blocker / "out.mp4"))


def test_a_source_that_stops_decoding_part_of_the_way(media, tmp_path):
    whole = make_video(tmp_path / "whole.mp4", duration=6, tone_hz=440, faststart=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])  # the index survives, the pictures stop early
    damaged = str(uuid.uuid4())
    paths = {**_paths(media), damaged: str(cut)}
    edit = _edit(make_edit([clip(media["a30"][0], 0, 1), clip(damaged, 0, 5)]))
    out = tmp_path / "out" / "o.mp4"
    with pytest.raises(SourceDecodeError) as info:
        render(edit, paths, str(out))
    assert info.value.clip_index == 1 and "clip 1" in str(info.value)
    assert not out.exists() and os.listdir(out.parent) == []


def test_a_file_that_is_not_media(media, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    junk_id = str(uuid.uuid4())
    edit = _edit(make_edit([clip(junk_id, 0, 1)]))
    with pytest.raises(SourceDecodeError) as info:
        render(edit, {junk_id: str(junk)}, str(tmp_path / "o.mp4"))
    assert info.value.clip_index == 0


def test_an_edit_that_does_not_fit_its_sources(media, tmp_path):
    edit = _edit(make_edit([clip(media["a30"][0], 0, 30)]))  # the source lasts 21 s
    with pytest.raises(InvalidEditError) as info:
        render(edit, _paths(media), str(tmp_path / "o.mp4"))
    assert info.value.errors[0]["loc"] == ["video_series_sequential", 0, "video_end_time"]


def test_an_output_past_the_workers_cap_is_refused(media, tmp_path):
    """The worker holds the API's CANOPY_MAX_OUTPUT_SECONDS too: one cap, both places."""
    edit = _edit(make_edit([clip(media["a30"][0], 0, 2), clip(media["still"][0], 0, 1e9,
                                                              kind="image")]))
    with pytest.raises(InvalidEditError) as info:
        render(edit, _paths(media), str(tmp_path / "o.mp4"), max_output_seconds=60)
    assert info.value.errors[0]["loc"] == ["video_series_sequential", 1, "video_end_time"]
    assert os.listdir(tmp_path) == []


def test_gpu_asked_for_where_there_is_none(media, tmp_path, monkeypatch):
    monkeypatch.setattr(encode, "gpu_available", lambda: False)
    body = make_edit([clip(media["a30"][0], 0, 1)], render_options={"encoder": "gpu"})
    with pytest.raises(GpuUnavailableError):
        render(_edit(body), _paths(media), str(tmp_path / "o.mp4"))
    assert os.listdir(tmp_path) == []
    # auto falls back to the CPU
    result = render(_edit(make_edit([clip(media["a30"][0], 0, 1)])), _paths(media),
                    str(tmp_path / "o.mp4"), encoder="auto")
    assert result.video_codec == "libx264"


def test_prefetch_hands_errors_to_the_consumer_and_stops_its_thread():
    def numbers():
        yield 1
        raise ValueError("broken")

    with Prefetch(numbers(), 2) as items:
        assert next(items) == 1
        with pytest.raises(ValueError):
            next(items)
    endless = Prefetch(iter(int, 1), 2)  # never ends on its own
    assert next(endless) == 0
    endless.close()
    assert not endless._thread.is_alive()
