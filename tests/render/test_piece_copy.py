"""worker/render/piece_copy.py: a piece copies the GOPs of a source Canopy encoded with its
own settings, encodes the rest, and is checked; a copied frame decodes to the source's."""
from __future__ import annotations

import uuid
from dataclasses import replace

import av
import numpy as np
import pytest

from shared.edit import parse_edit
from tests.fixtures.mediakit import make_counting_video, read_index
from worker.render import (PieceSpan, join, piece_settings, plan, plan_pieces, render,
                           render_audio, render_in_pieces, render_piece)
from worker.render import piece_render
from worker.render.encode import gop_frames
from worker.render.join import check_piece
from worker.render.piece_copy import NoCopy, check_copied, copied_runs, encoder_headers
from worker.render.probe import source_keyframes

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


def _pieces(edit, sources, folder, keyframes=None, **options):
    """Pieces of 6 s (3 GOPs: the render's IDRs, scene cuts among them, are <= 2 s apart)."""
    timeline, _ = plan(edit, sources)
    spans, _ = plan_pieces(timeline, 6, keyframes=keyframes)
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


def test_pieces_cut_at_the_sources_idrs_copy_all_but_the_clips_ends(rendered, tmp_path):
    """Cut at the render's own keyframes: every piece but the first and the last is copied
    whole, and those encode less than a GOP; every copied frame is the source's, exactly
    (every frame of the output decoded and compared)."""
    render_id, path = rendered
    sources = {render_id: path}
    keyframes = source_keyframes(path)
    assert keyframes[0] == 0 and len(keyframes) >= 9
    edit, _ = parse_edit(make_edit([clip(render_id, 1.3, 16.9)]))  # 468 frames from 39
    results, out = _pieces(edit, sources, tmp_path, keyframes={render_id: keyframes})
    assert len(results) >= 3 and all(r.note is None for r in results)
    first, *middle, last = results
    frame_starts = {int(t * 30) for t in keyframes}
    assert all(39 + r.span.start in frame_starts for r in middle + [last])
    assert all(r.copied == r.span.frames for r in middle)
    gop = gop_frames(30)
    assert first.span.frames - first.copied < gop and last.span.frames - last.copied < gop
    assert sum(r.copied for r in results) >= 0.7 * 468
    source, shown = _frames(path), _frames(out)
    assert len(shown) == 468 and _indices(out) == list(range(39 + 15, 39 + 15 + 468))
    for r in results:
        exact = [np.array_equal(shown[k], source[39 + k])
                 for k in range(r.span.start, r.span.end)]
        if r.copied == r.span.frames:
            assert all(exact), r.span
        assert sum(exact) >= r.copied, r.span


def test_a_one_piece_render_of_a_render_copies(rendered, tmp_path):
    """A render short enough for one piece still copies its source's GOPs (the piece, its
    sound and the join), and shows the source's frames exactly where it copied."""
    render_id, path = rendered
    edit, _ = parse_edit(make_edit([clip(render_id, 2, 10)]))
    out = tmp_path / "one.mp4"
    result = render_in_pieces(edit, {render_id: path}, str(out), 0)
    assert result.pieces == 1 and result.frames == 240
    assert result.copied >= 0.7 * 240
    source, shown = _frames(path), _frames(out)
    assert _indices(out) == list(range(75, 315))
    exact = sum(np.array_equal(frame, source[60 + k]) for k, frame in enumerate(shown))
    assert exact >= result.copied
    with av.open(str(out)) as container:
        assert container.streams.audio[0].frames > 0
    # Not a source to copy from (another size): render() as before.
    other, _ = parse_edit(make_edit([clip(render_id, 2, 10)], video_output_resolution="320x180"))
    assert render_in_pieces(other, {render_id: path}, str(tmp_path / "o.mp4"), 0).copied == 0


def test_check_copied_refuses_a_piece_that_does_not_hold_its_runs(rendered, tmp_path):
    render_id, path = rendered
    sources = {render_id: path}
    edit, _ = parse_edit(make_edit([clip(render_id, 1, 17)]))
    timeline, _ = plan(edit, sources)
    span = PieceSpan(1, 60, 300)
    settings = piece_settings(edit, timeline)
    runs = copied_runs(timeline, span, sources, settings)
    piece = render_piece(edit, sources, span, str(tmp_path / "p.mp4"), timeline=timeline)
    assert piece.copied == sum(r.frames for r in runs) > 0

    def check(runs):
        check_piece(piece.output, span, timeline.fps, encoder_headers(settings),
                    also=lambda stream, packets: check_copied(stream, packets, span, settings,
                                                              runs))

    check(runs)
    run = runs[0]
    with pytest.raises(NoCopy):  # its IDR is not where the runs say
        check([replace(run, start=run.start + 1, end=run.end + 1), *runs[1:]])
    with pytest.raises(NoCopy):  # what follows it does not start with an IDR
        check([replace(run, end=run.end - 1), *runs[1:]])


def test_a_copy_that_does_not_check_out_is_encoded_whole(rendered, tmp_path, monkeypatch):
    render_id, path = rendered
    edit, _ = parse_edit(make_edit([clip(render_id, 1, 17)]))

    def refuse(*args):
        raise NoCopy("refused")

    monkeypatch.setattr(piece_render, "check_copied", refuse)
    results, out = _pieces(edit, {render_id: path}, tmp_path)
    assert all(r.copied == 0 for r in results)
    assert any("copying failed" in (r.note or "") for r in results)
    assert _indices(out) == list(range(45, 525))
