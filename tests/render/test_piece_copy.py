"""worker/render/piece_copy.py: a piece copies the GOPs of a source Canopy encoded with its
own settings, encodes the rest, and is checked; a copied frame decodes to the source's."""
from __future__ import annotations

import uuid

import av
import numpy as np
import pytest

from shared.edit import parse_edit
from tests.fixtures.mediakit import make_counting_video, read_index
from worker.render import join, plan, plan_pieces, render, render_audio, render_piece
from worker.render import piece_render

from tests.fixtures.edits import clip, make_edit


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(id, path) of a Canopy render (one piece, the encoder's own thread count) of a
    counting source: 18 s, the source's 0.5-18.5 s."""
    folder = tmp_path_factory.mktemp("copy")
    camera = make_counting_video(folder / "camera.mp4", fps=30, duration=20, tone_hz=500)
    camera_id, render_id = str(uuid.uuid4()), str(uuid.uuid4())
    edit, _ = parse_edit(make_edit([clip(camera_id, 0.5, 18.5)]))
    render(edit, {camera_id: str(camera)}, str(folder / "render.mp4"))
    return render_id, str(folder / "render.mp4")


def _indices(path):
    with av.open(str(path)) as container:
        return [read_index(f) for f in container.decode(video=0)]


def _frames(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def _pieces(edit, sources, folder, **options):
    """Pieces of 6 s (3 GOPs: the render's IDRs, scene cuts among them, are <= 2 s apart)."""
    timeline, _ = plan(edit, sources)
    spans, _ = plan_pieces(timeline, 6)
    results = [render_piece(edit, sources, span, str(folder / f"p{span.index}.mp4"),
                            timeline=timeline, **options) for span in spans]
    sound = render_audio(edit, sources, str(folder / "sound.m4a"), timeline=timeline)
    out = folder / "out.mp4"
    joined = join([r.output for r in results], spans, sound.output, str(out), "mp4",
                  timeline.fps)
    assert joined.frames == timeline.frame_count
    return results, out


def test_a_trimmed_render_as_a_source_is_mostly_copied_and_exact(rendered, tmp_path):
    render_id, path = rendered
    sources = {render_id: path}
    edit, _ = parse_edit(make_edit([clip(render_id, 1, 17)]))  # 1 s off each end
    results, out = _pieces(edit, sources, tmp_path)
    copied = sum(r.copied for r in results)
    assert all(r.note is None for r in results)
    assert len(results) == 3 and copied >= 0.6 * 480, [(r.span, r.copied) for r in results]
    source = _frames(path)
    shown = _frames(out)
    assert len(shown) == 480
    # Every frame shows its source frame; the copied ones bit for bit.
    assert _indices(out) == list(range(45, 525))
    exact = sum(np.array_equal(frame, source[30 + k]) for k, frame in enumerate(shown))
    assert exact >= copied
    (tmp_path / "encoded").mkdir()
    encoded, whole = _pieces(edit, sources, tmp_path / "encoded", copy=False)
    assert sum(r.copied for r in encoded) == 0
    assert _indices(whole) == list(range(45, 525))


@pytest.mark.parametrize("change", [{"render_options": {"preset": "medium"}},
                                    {"video_output_resolution": "320x180"},
                                    {"crop": {"zoom": 1.2}}])
def test_a_source_the_piece_would_not_encode_so_is_encoded(rendered, tmp_path, change):
    render_id, path = rendered
    crop = change.pop("crop", None)
    edit, _ = parse_edit(make_edit([clip(render_id, 1, 17, crop=crop)], **change))
    results, out = _pieces(edit, {render_id: path}, tmp_path)
    assert [(r.copied, r.note) for r in results] == [(0, None)] * len(results)
    assert _indices(out)[:3] == [45, 46, 47]


def test_a_copy_that_does_not_check_out_is_encoded_whole(rendered, tmp_path, monkeypatch):
    render_id, path = rendered
    edit, _ = parse_edit(make_edit([clip(render_id, 1, 17)]))
    monkeypatch.setattr(piece_render, "decoded_frames", lambda path, size: 0)
    results, out = _pieces(edit, {render_id: path}, tmp_path)
    assert all(r.copied == 0 for r in results)
    assert any("copying failed" in (r.note or "") for r in results)
    assert _indices(out) == list(range(45, 525))
