"""worker/render/timeline.py: exact frame and sample counts per clip."""
from __future__ import annotations

import uuid
from fractions import Fraction

from shared.edit import VideoEdit
from shared.edit_sources import SourceInfo
from worker.render.timeline import build_timeline, exact, round_half_up

from tests.fixtures.edits import clip, make_edit, overlay

V, I, M = (str(uuid.UUID(int=i, version=4)) for i in (1, 2, 3))
SOURCES = {V: SourceInfo("video", 600.0, True, True), I: SourceInfo("image", None, False, True),
           M: SourceInfo("audio", 100.0, True, False)}


def _timeline(body):
    return build_timeline(VideoEdit.model_validate(body), SOURCES)


def test_seed_counts():
    timeline, _ = _timeline(make_edit([clip(V, "00:00:00", "00:00:10"),
                                       clip(V, "00:00:10", "00:00:20")]))
    assert (timeline.frame_count, timeline.sample_count) == (600, 960000)
    assert [(c.frame_start, c.frame_count, c.sample_start, c.sample_count)
            for c in timeline.clips] == [(0, 300, 0, 480000), (300, 300, 480000, 480000)]


def test_counts_add_up_without_drift_for_many_odd_clips_at_ntsc():
    clips = [clip(V, 0, 1.001 + i / 7) for i in range(60)]
    timeline, _ = _timeline(make_edit(clips, video_output_fps=29.97))
    fps = Fraction(30000, 1001)
    assert timeline.fps == fps
    total = sum(exact(1.001 + i / 7) for i in range(60))
    assert timeline.frame_count == round_half_up(total * fps)
    assert sum(c.frame_count for c in timeline.clips) == timeline.frame_count
    assert sum(c.sample_count for c in timeline.clips) == timeline.sample_count
    t = Fraction(0)
    for c in timeline.clips:  # each clip starts where the exact clock says it does
        assert c.frame_start == round_half_up(t * fps)
        assert c.sample_start == round_half_up(t * 48000)
        t += c.duration


def test_clip_defaults_images_and_auto_crop():
    body = make_edit([clip(V, 590), clip(I, 0, 2.5, kind="image")], auto_vertical_crop="tight")
    timeline, _ = _timeline(body)
    first, image = timeline.clips
    assert first.source_end == 600 and first.frame_count == 300
    assert image.kind == "image" and image.frame_count == 75
    assert first.framing.zoom == 1.2 and image.framing.zoom == 1.2


def test_overlay_windows_on_the_output():
    body = make_edit([clip(V, 0, 10)], [overlay(M), overlay(M, 2, 30), overlay(M, 12)])
    timeline, warnings = _timeline(body)
    assert [(o.sample_start, o.sample_end) for o in timeline.overlays] == [
        (0, 480000), (96000, 480000)]
    assert any("audio_overlay.2" in w for w in warnings)  # starts after the end
    assert any("audio_overlay.1" in w for w in warnings)  # cut at the end
