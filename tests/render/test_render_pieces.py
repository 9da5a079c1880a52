"""worker/render/piece_render.py, in_process.py and join.py: a render in pieces (planned by
piece_plan.py), joined, decoded frame by frame.

The sources show their own frame index (tests.fixtures.mediakit.counting_image) and carry one
unbroken sine, so a dropped, repeated or misplaced frame, or a gap in the sound, shows.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import av
import numpy as np
import pytest

from shared.edit import parse_edit
from tests.fixtures.mediakit import PALETTE, make_counting_video, make_image, read_index, sine
from worker.render import (PieceMismatchError, PieceSpan, RenderCanceled, join, plan,
                           plan_from_infos, plan_pieces, probe_source, render, render_audio,
                           render_in_pieces, render_piece, sound_sources, sources_for,
                           timeline_from_dict, timeline_to_dict)
from worker.render.bitstream import avcc_parameter_sets, vp9_key_frame_header

from tests.fixtures.edits import clip, make_edit, overlay
from tests.fixtures.measure import largest_click, read_audio

TONE_HZ = 500


@pytest.fixture(scope="module")
def counting(tmp_path_factory):
    """{name: (source id, path)}: 30, 29.97 fps mp4 and 25 fps TS counting sources, B-frames
    (TS seeks land late, so the renderer must seek again earlier), and a still image."""
    folder = tmp_path_factory.mktemp("counting")
    made = {"c30": make_counting_video(folder / "c30.mp4", fps=30, duration=22, tone_hz=TONE_HZ),
            "c2997": make_counting_video(folder / "c2997.mp4", fps=29.97, duration=21,
                                         tone_hz=TONE_HZ),
            "c25": make_counting_video(folder / "c25.ts", fps=25, duration=8, tone_hz=700),
            "still": make_image(folder / "still.png", (160, 90), PALETTE[3])}
    return {name: (str(uuid.uuid4()), str(path)) for name, path in made.items()}


def _decoded(path):
    """(frame indices, frame pts in seconds) of a file's video."""
    with av.open(str(path)) as container:
        frames = [(read_index(f), f.time) for f in container.decode(video=0)]
    return [i for i, _ in frames], [t for _, t in frames]


def _pieces(edit, sources, folder, chunk_seconds=2, sound_name="sound.m4a"):
    """Plan with every source, then render each piece from the stored timeline and only
    its own sources, as a farm worker does; the sound once. Returns what join takes."""
    timeline, _ = plan(edit, sources)
    probes = {sid: probe_source(path) for sid, path in sources.items()}
    assert plan_from_infos(edit, probes)[0] == timeline  # the same plan from stored probes
    stored = timeline_to_dict(timeline)
    assert timeline_from_dict(stored) == timeline
    spans, _ = plan_pieces(timeline, chunk_seconds)
    paths = []
    for span in spans:
        own = {sid: sources[sid] for sid in sources_for(timeline, span)}
        reports = []
        result = render_piece(edit, own, span, str(folder / f"p{span.index}.mp4"),
                              timeline=timeline_from_dict(stored),
                              on_progress=lambda done, total: reports.append((done, total)))
        assert result.frames == span.frames and reports[-1] == (span.frames, span.frames)
        paths.append(result.output)
    own = {sid: sources[sid] for sid in sound_sources(timeline)}
    sound = render_audio(edit, own, str(folder / sound_name), timeline=timeline)
    assert sound.samples == timeline.sample_count
    return timeline, spans, paths, sound.output


@pytest.mark.parametrize("name, fps, first, frames", [("c30", 30, 15, 600),
                                                     ("c2997", 29.97, 14, 599)])
def test_seams_lose_no_frame_and_no_sample(counting, tmp_path, name, fps, first, frames):
    source_id, path = counting[name]
    # 20 s from the source's 0.5 s: at 29.97 fps its frame 15 is at 0.5005 s, so 14 shows.
    edit, _ = parse_edit(make_edit([clip(source_id, 0.5, 20.5)], video_output_fps=fps))
    timeline, spans, pieces, sound = _pieces(edit, {source_id: path}, tmp_path)
    assert len(spans) == 10
    out = tmp_path / "joined.mp4"
    assert join(pieces, spans, sound, str(out), "mp4", timeline.fps).frames == frames

    indices, times = _decoded(out)
    assert indices == list(range(first, first + frames))  # each once, in order, 9 seams
    assert np.allclose(np.diff(times), float(1 / timeline.fps), atol=1e-6) and times[0] == 0
    audio, rate, declared = read_audio(out)
    assert (rate, declared, audio.shape[1]) == (48000, 960000, 960000)
    # One sine from the source's 0.5 s on, sample for sample (the clip fades in and out at
    # its ends, and AAC smears those fades over a few ms: 0.1 s left out at each end).
    ideal = sine(20, TONE_HZ, start_sample=24000)
    inner = slice(4800, 960000 - 4800)
    assert np.abs(audio[:, inner] - ideal[:, inner]).max() < 0.005
    for span in spans[1:]:  # no click where the pictures were cut
        at = round(span.start / timeline.fps * 48000)
        assert largest_click(audio[:, at - 4800:at + 4800]) < 0.01
    with av.open(str(out)) as container:  # +faststart: the index before the media
        assert container.streams.video[0].frames == frames
    head = out.read_bytes()[:64]
    assert head.index(b"moov") < 64


def test_output_in_pieces_shows_the_frames_of_the_one_piece_output(counting, tmp_path):
    c30, c25, still = counting["c30"], counting["c25"], counting["still"]
    sources = dict([c30, c25, still])
    # Output frames: 0-122 c25, 123-221 c30, 222-266 still, 267-350 c25, 351-410 c30;
    # pieces of 60 frames, so seams fall inside clips of each kind.
    body = make_edit([clip(c25[0], 1.0, 5.1), clip(c30[0], 3.0, 6.3),
                      clip(still[0], 0, 1.5, kind="image"), clip(c25[0], 0.2, 3.0),
                      clip(c30[0], 10.0, 12.0)],
                     [overlay(c25[0], 0.5, 9.0)], video_output_format="MOV",
                     video_output_filename="out.mov")
    edit, _ = parse_edit(body)
    whole = render(edit, sources, str(tmp_path / "whole.mov"))
    reports = []
    in_pieces = render_in_pieces(edit, sources, str(tmp_path / "in_pieces.mov"), 2,
                                 on_progress=lambda done, total: reports.append(done))
    assert (in_pieces.frames, in_pieces.samples) == (whole.frames, whole.samples) == (411, 657600)
    assert reports == sorted(reports) and reports[-1] == 411
    whole_indices, _ = _decoded(tmp_path / "whole.mov")
    piece_indices, times = _decoded(tmp_path / "in_pieces.mov")
    assert piece_indices == whole_indices
    # The TS source's first clip starts at its 1.0 s (frame 25; its stream times start a
    # frame off its container's). A seek there lands 1.5 s late; it is redone earlier.
    assert abs(whole_indices[0] - 25) <= 1 and whole_indices[:123] == sorted(whole_indices[:123])
    assert piece_indices[123:222] == list(range(90, 189))  # the 30 fps clip, frame for frame
    assert piece_indices[351:] == list(range(300, 360))
    assert np.allclose(np.diff(times), 1 / 30, atol=1e-6)
    audio, _, declared = read_audio(tmp_path / "in_pieces.mov")
    assert declared == audio.shape[1] == 657600
    reference, _, _ = read_audio(tmp_path / "whole.mov")
    assert np.abs(audio - reference).max() < 0.02  # the same mix, encoded once each


def test_join_refuses_pieces_that_do_not_fit(counting, tmp_path):
    source_id, path = counting["c30"]
    sources = {source_id: path}
    edit, _ = parse_edit(make_edit([clip(source_id, 0, 8)]))
    timeline, spans, pieces, sound = _pieces(edit, sources, tmp_path)
    out = tmp_path / "out.mp4"
    with av.open(pieces[0]) as piece:
        sps, pps, length_size = avcc_parameter_sets(piece.streams.video[0].codec_context.extradata)
    assert (len(sps), len(pps), length_size) == (1, 1, 4)
    assert sps[0][0] & 0x1F == 7 and pps[0][0] & 0x1F == 8  # NAL unit types SPS, PPS

    other, _ = parse_edit(make_edit([clip(source_id, 0, 8)],
                                    render_options={"preset": "medium"}))
    render_piece(other, sources, spans[2], str(tmp_path / "medium.mp4"), timeline=timeline)
    tampered = [*pieces[:2], str(tmp_path / "medium.mp4"), *pieces[3:]]
    with pytest.raises(PieceMismatchError, match="piece 2 .* other PPS") as refused:
        join(tampered, spans, sound, str(out), "mp4", timeline.fps)
    assert refused.value.piece == 2  # the piece to render anew

    short = PieceSpan(1, spans[1].start, spans[1].end - 1)  # one frame missing
    render_piece(edit, sources, short, str(tmp_path / "short.mp4"), timeline=timeline)
    tampered = [pieces[0], str(tmp_path / "short.mp4"), *pieces[2:]]
    with pytest.raises(PieceMismatchError, match="piece 1 .* 59 frames.* 60"):
        join(tampered, spans, sound, str(out), "mp4", timeline.fps)
    headless = tmp_path / "headless.mp4"  # piece 1 less its first (IDR) frame
    with av.open(pieces[1]) as source, av.open(str(headless), "w", format="mp4") as copy:
        stream = copy.add_stream_from_template(source.streams.video[0])
        for packet in list(source.demux(video=0))[1:]:
            if packet.size:
                packet.stream = stream
                copy.mux(packet)
    with pytest.raises(PieceMismatchError, match="piece 1 .* does not start with an IDR"):
        join([pieces[0], str(headless)], [spans[0], PieceSpan(1, 60, 119)], sound, str(out),
             "mp4", timeline.fps)
    cut = tmp_path / "cut.mp4"  # a piece whose upload stopped half way: no index
    cut.write_bytes(open(pieces[1], "rb").read()[:2000])
    with pytest.raises(PieceMismatchError, match="piece 1 cannot be read"):
        join([pieces[0], str(cut), *pieces[2:]], spans, sound, str(out), "mp4", timeline.fps)
    with pytest.raises(ValueError, match="without gaps"):
        join(pieces[::2], spans[::2], sound, str(out), "mp4", timeline.fps)
    assert not out.exists() and sorted(p.name for p in tmp_path.glob(".*")) == []

    join(pieces, spans, sound, str(out), "mp4", timeline.fps)  # the pieces as rendered
    assert _decoded(out)[0] == list(range(240))


def test_a_canceled_piece_leaves_no_file(counting, tmp_path):
    source_id, path = counting["c30"]
    edit, _ = parse_edit(make_edit([clip(source_id, 0, 8)]))
    out = tmp_path / "piece.mp4"
    with pytest.raises(RenderCanceled):
        render_piece(edit, {source_id: path}, PieceSpan(1, 60, 180), str(out),
                     should_cancel=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_webm_sound_alone_has_exact_samples(counting, tmp_path):
    source_id, path = counting["c30"]
    edit, _ = parse_edit(make_edit([clip(source_id, 0, 2.5)], video_output_fps=25,
                                   video_output_format="webm", video_output_filename="o.webm"))
    out = tmp_path / "sound.webm"
    assert render_audio(edit, {source_id: path}, str(out)).samples == 120_000
    audio, rate, declared = read_audio(out)
    with av.open(str(out)) as container:
        assert [s.codec_context.name for s in container.streams] == ["opus"]
    assert (rate, declared, audio.shape[1]) == (48000, 120_000, 120_000)


def test_webm_pieces_join_as_vp9_and_opus(counting, tmp_path):
    source_id, path = counting["c30"]
    sources = {source_id: path}
    edit, _ = parse_edit(make_edit([clip(source_id, 0.5, 8.5)], video_output_format="webm",
                                   video_output_filename="o.webm"))
    timeline, spans, pieces, sound = _pieces(edit, sources, tmp_path, sound_name="sound.webm")
    out = tmp_path / "joined.webm"
    assert join(pieces, spans, sound, str(out), "webm", timeline.fps).frames == 240
    with av.open(str(out)) as container:
        assert [s.codec_context.name for s in container.streams] == ["vp9", "opus"]
    with av.open(pieces[1]) as piece:
        first, second = [bytes(p) for p in piece.demux(video=0) if p.size][:2]
    # profile 0, 8 bits, colour space unknown, studio range, 4:2:0, 160x90
    assert vp9_key_frame_header(first) == (0, 8, 0, 0, 1, 1, 160, 90)
    assert vp9_key_frame_header(second) is None
    indices, times = _decoded(out)
    assert indices == list(range(15, 255))  # each once, in order, across 3 seams
    assert np.allclose(np.diff(times), 1 / 30, atol=0.0011)  # webm counts milliseconds
    audio, rate, declared = read_audio(out)
    assert (rate, declared, audio.shape[1]) == (48000, 384000, 384000)
    ideal = sine(8, TONE_HZ, start_sample=24000)
    assert np.abs(audio[:, 4800:-4800] - ideal[:, 4800:-4800]).max() < 0.01

    mp4_edit, _ = parse_edit(make_edit([clip(source_id, 0.5, 8.5)]))
    render_piece(mp4_edit, sources, spans[1], str(tmp_path / "h264.mp4"), timeline=timeline)
    with pytest.raises(PieceMismatchError, match="piece 1 .* is h264, piece 0 vp9"):
        join([pieces[0], str(tmp_path / "h264.mp4"), *pieces[2:]], spans, sound, str(out),
             "webm", timeline.fps)


def test_a_preview_has_half_the_size_and_the_same_frames_cuts_and_sound(counting, tmp_path):
    source_id, path = counting["c30"]
    sources = {source_id: path}
    body = make_edit([clip(source_id, 0.5, 4.5), clip(source_id, 10, 13)])
    final, _ = parse_edit(body)
    preview, _ = parse_edit({**body, "render_options": {"preview": True}})
    plans = [plan(edit, sources)[0] for edit in (final, preview)]
    assert [(t.width, t.height) for t in plans] == [(160, 90), (80, 46)]
    assert plan_pieces(plans[0], 2)[0] == plan_pieces(plans[1], 2)[0]  # the same cuts
    outputs = [render_in_pieces(edit, sources, str(tmp_path / f"{name}.mp4"), 2)
               for edit, name in ((final, "final"), (preview, "preview"))]
    assert [r.pieces for r in outputs] == [4, 4]
    with av.open(outputs[1].output) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (80, 46)
    # Each frame still shows its index (read from the half-size picture).
    assert _decoded(outputs[1].output)[0] == _decoded(outputs[0].output)[0]
    final_sound, _, _ = read_audio(outputs[0].output)
    preview_sound, _, _ = read_audio(outputs[1].output)
    assert final_sound.shape == preview_sound.shape
    assert np.abs(final_sound - preview_sound).max() < 1e-6
    # Its pieces are keyed as any piece: the same piece rendered again is the same bytes.
    span = plan_pieces(plans[1], 2)[0][1]
    again = [render_piece(preview, sources, span, str(tmp_path / f"again{i}.mp4"),
                          timeline=plans[1]).output for i in range(2)]
    assert Path(again[0]).read_bytes() == Path(again[1]).read_bytes()
