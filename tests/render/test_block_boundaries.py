"""Sound that ends on an encoder-frame boundary inside the last video frame (found by `make run`)."""
from __future__ import annotations

import pytest

from shared.edit import parse_edit
from tests.fixtures.edits import clip, make_edit
from tests.fixtures.measure import read_audio, read_video
from worker.render import render


@pytest.mark.parametrize("fmt", ["webm", "mp4"])
def test_clip_whose_samples_end_on_an_opus_frame(media, tmp_path, fmt):
    source_id, path = media["a30"]
    # 2.5 s at 25 fps: 63 frames (62.5 rounds up) but 120 000 samples = 125 Opus frames exactly.
    body = make_edit([clip(source_id, "00:00:01", "00:00:03.5")], video_output_fps=25,
                     video_output_format=fmt, video_output_filename=f"out.{fmt}")
    edit, _ = parse_edit(body)
    out = tmp_path / f"out.{fmt}"
    result = render(edit, {source_id: path}, str(out))
    assert (result.frames, result.samples) == (63, 120_000)
    assert read_video(out).frames == 63
    assert read_audio(out)[2] == 120_000
