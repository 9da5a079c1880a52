"""worker/render/piece_plan.py and piece_keys.py: pieces planned on the clips, and their keys.

Planned from stored probes (plan_from_infos), so no media is needed but for the last tests.
"""
from __future__ import annotations

import random
import uuid
from fractions import Fraction

import av
import pytest

from shared.edit import parse_edit
from shared.edit_sources import SourceInfo
from worker.render import (PieceSpan, clip_parts, piece_key, piece_settings, plan_from_infos,
                           plan_pieces, render_piece)
from worker.render import piece_keys
from worker.render.encode import gop_frames

from tests.fixtures.edits import clip, make_edit

A, B, C = (str(uuid.uuid5(uuid.NAMESPACE_URL, name)) for name in "abc")
IMAGE = str(uuid.uuid5(uuid.NAMESPACE_URL, "image"))
INFOS = {A: SourceInfo("video", 900, True, True), B: SourceInfo("video", 900, True, True),
         C: SourceInfo("video", 900, True, True), IMAGE: SourceInfo("image", None, False, True)}
CONTENTS = {A: "a" * 64, B: "b" * 64, C: "c" * 64, IMAGE: "d" * 64}


def planned(clips, piece_s=2, keyframes=None, **top):
    edit, _ = parse_edit(make_edit(clips, **top))
    timeline, _ = plan_from_infos(edit, INFOS)
    spans, warnings = plan_pieces(timeline, piece_s, edit.video_output_format, edit.encoder,
                                  contents=CONTENTS, keyframes=keyframes)
    return edit, timeline, spans, warnings


def keys(edit, timeline, spans, contents=CONTENTS):
    settings = piece_settings(edit, timeline)
    return [piece_key(timeline, span, settings, contents) for span in spans]


def check_cover(timeline, spans):
    """Every frame once, in order; a piece holds a part of one clip, or whole clips."""
    assert spans[0].start == 0 and spans[-1].end == timeline.frame_count
    assert all(a.end == b.start and a.index + 1 == b.index for a, b in zip(spans, spans[1:]))
    for span in spans:
        parts = clip_parts(timeline, span)
        assert len(parts) == 1 or all(p.frames == p.clip.frame_count for p in parts), span


def test_a_long_clip_is_cut_on_its_source_time_wherever_it_sits():
    # 20 s of A from its 0.5 s: a cut at each 2 s of source time (60 frames), the first
    # after 45 frames; a piece under half as long at the end is merged (585 -> 600).
    edit, timeline, spans, warnings = planned([clip(A, 0.5, 20.5)])
    assert warnings == [] and [s.end for s in spans] == [45 + 60 * i for i in range(9)] + [600]
    alone = keys(edit, timeline, spans)
    # The same clip after 7.4 s of another (a place no whole GOP reaches): cut at the same
    # clip frames, so the same pieces, under the same keys.
    edit, timeline, moved, _ = planned([clip(B, 3, 10.4), clip(A, 0.5, 20.5)])
    check_cover(timeline, moved)
    shift = timeline.clips[1].frame_start
    assert shift == 222 and [s.end for s in moved[:4]] == [30, 90, 150, 222]  # B's, from 3 s
    assert [(s.start - shift, s.end - shift) for s in moved[-10:]] == [
        (s.start, s.end) for s in spans]
    assert keys(edit, timeline, moved)[-10:] == alone
    # Trimmed by 2 s at its start: the later cuts fall on the same source times.
    edit, timeline, trimmed, _ = planned([clip(A, 2.5, 20.5)])
    assert set(keys(edit, timeline, trimmed)[1:]) <= set(alone[1:])


def test_a_long_clip_is_cut_at_its_sources_keyframes_wherever_it_sits():
    # A's keyframes at uneven source frames, as a render's are (each of its pieces and
    # scene cuts starts a GOP). 20 s of A from its 0.5 s (source frame 15): each grid
    # point (source frames 60, 120, ...) moves to the nearest keyframe within 30 frames
    # (the earlier of two as near). The grid point at 600 (clip frame 585) would leave 15
    # frames, under half a piece: left out, though keyframe 580 is near.
    frames = [0, 50, 110, 170, 230, 290, 350, 400, 470, 530, 580, 640]
    keyframes = {A: [Fraction(k, 30) for k in frames]}
    edit, timeline, spans, _ = planned([clip(A, 0.5, 20.5)], keyframes=keyframes)
    cuts = [50, 110, 170, 230, 290, 350, 400, 470, 530]
    assert [s.end for s in spans] == [k - 15 for k in cuts] + [600]
    alone = keys(edit, timeline, spans)
    # Placed after another clip: cut at the same source frames, the same keys.
    edit, timeline, moved, _ = planned([clip(B, 3, 10.4), clip(A, 0.5, 20.5)],
                                       keyframes=keyframes)
    shift = timeline.clips[1].frame_start
    assert [(s.start - shift, s.end - shift) for s in moved[-len(spans):]] == [
        (s.start, s.end) for s in spans]
    assert keys(edit, timeline, moved)[-len(spans):] == alone
    # A keyframe off the output's frame grid: the first frame at or after it.
    edit, timeline, spans, _ = planned([clip(A, 0.5, 20.5)],
                                       keyframes={A: [Fraction(101, 60)]})
    assert spans[0].end == 36  # source frame 50.5 first shows at clip frame 36 (frame 51)
    # No keyframe within half a piece of a grid point: the grid point.
    assert [s.end for s in spans[1:3]] == [105, 165]
    # Nor one that would leave under half a piece of the clip before it (clip frame 5).
    edit, timeline, spans, _ = planned([clip(A, 0.5, 20.5)],
                                       keyframes={A: [Fraction(20, 30)]})
    assert spans[0].end == 45


def test_a_clip_one_piece_long_is_one_piece_whatever_keyframes_it_holds():
    """Its grid point falls 15 frames before its end: left out, so no keyframe near the
    middle (clip frame 30, the most a snap may move) cuts it in two half pieces."""
    every_second = {A: [Fraction(k) for k in range(0, 30)]}
    for start in (0.5, 1.5, 2, 7.25):
        edit, timeline, spans, _ = planned([clip(B, 0, 3), clip(A, start, start + 2),
                                            clip(B, 5, 8)], keyframes=every_second)
        ours = timeline.clips[1]
        assert (ours.frame_start, ours.frame_count) == (90, 60)
        assert [(s.start, s.end) for s in spans if 90 <= s.start < 150] == [(90, 150)], start


@pytest.mark.parametrize("fps", [30, 25, 23.976, 29.97])
def test_pieces_cover_every_frame_once_and_never_cross_a_clip(fps):
    rng = random.Random(fps)
    gop = gop_frames(parse_edit(make_edit([clip(A, 0, 1)], video_output_fps=fps))[0].fps)
    for _ in range(25):
        clips = [clip(rng.choice([A, B, IMAGE]), round(rng.uniform(0, 50), 3))
                 for _ in range(rng.randint(1, 12))]
        for c in clips:
            c["video_end_time"] = c["video_start_time"] + round(rng.choice(
                [rng.uniform(0.1, 3), rng.uniform(3, 40)]), 3)
            c["type"] = "image" if c["video_id"] == IMAGE else "videofile"
        piece_s = rng.choice([2, 4, 10])
        edit, timeline, spans, _ = planned(clips, piece_s, video_output_fps=fps)
        length = max(1, round(piece_s * timeline.fps / gop)) * gop
        if timeline.frame_count <= 2 * length:
            assert spans == [PieceSpan(0, 0, timeline.frame_count)]
            continue
        check_cover(timeline, spans)
        for span in spans:
            parts = clip_parts(timeline, span)
            # A long clip's piece: one part of one clip, under two pieces long; a run of
            # short clips: whole clips, at most two pieces long together.
            if len(parts) > 1 or parts[0].clip.frame_count < length:
                assert all(p.frames == p.clip.frame_count for p in parts)
                assert span.frames <= 2 * length
            else:
                assert span.frames < 2 * length


def test_a_changed_short_clip_changes_only_the_pieces_around_it():
    rng = random.Random(3)
    clips = [clip(rng.choice([A, B, C]), rng.randrange(0, 600) / 10) for _ in range(60)]
    for c in clips:
        c["video_end_time"] = c["video_start_time"] + rng.randrange(10, 30) / 10  # 1-3 s
    edit, timeline, spans, _ = planned(clips, 10)
    before = keys(edit, timeline, spans)
    assert 6 <= len(spans) <= 30  # runs of about half a 10 s piece
    for changed in (0, 17, 41, 59):
        edited = [dict(c) for c in clips]
        edited[changed]["video_end_time"] -= 0.5  # every later clip moves by 15 frames
        edit, timeline, spans, _ = planned(edited, 10)
        after = keys(edit, timeline, spans)
        assert len(set(after) - set(before)) <= 2, changed
        assert len(set(before) - set(after)) <= 2, changed


def test_gpu_renders_stay_whole_and_tiny_pieces_are_refused():
    long = [clip(A, 0, 600)]
    _, timeline, spans, warnings = planned(long, 30, render_options={"encoder": "gpu"})
    assert spans == [PieceSpan(0, 0, 18000)] and "gpu" in warnings[0]
    for encoder in ("auto", "gpu"):  # webm is VP9 on the CPU whatever is asked
        _, _, spans, _ = planned(long, 30, video_output_format="webm",
                                 video_output_filename="o.webm",
                                 render_options={"encoder": encoder})
        assert len(spans) == 20
    with pytest.raises(ValueError, match="chunk_seconds"):
        plan_pieces(timeline, 1)
    assert planned(long, 0)[2] == [PieceSpan(0, 0, 18000)]
    assert planned([clip(A, 0, 4)], 2)[2] == [PieceSpan(0, 0, 120)]  # not over two pieces


def test_the_key_changes_with_each_input_and_with_nothing_else(monkeypatch):
    crop = {"zoom": 1.2, "position_x": 0.1, "position_y": 0}
    body = dict(clips=[clip(B, 1, 5), clip(A, 0.5, 20.5, crop=crop),
                       clip(IMAGE, 0, 5, kind="image")])

    def key_of(piece=1, contents=CONTENTS, clips=None, **top):
        edit, timeline, spans, _ = planned(clips or body["clips"], 2, **top)
        at = next(c for c in timeline.clips if c.source_id == A).frame_start
        span = {1: next(s for s in spans if s.start == at), 2: spans[-1]}[piece]
        return piece_key(timeline, span, piece_settings(edit, timeline), contents)

    base = key_of()
    assert len(base) == 64 and key_of() == base
    same = [  # what the piece's pictures do not depend on
        key_of(video_output_filename="other.mp4", name="another edit", description="d"),
        key_of(video_output_format="mov", video_output_filename="o.mov"),  # the same pieces
        key_of(clips=[clip(C, 0, 2.2), clip(A, 0.5, 20.5, crop=crop)]),  # another place
        key_of(contents={**CONTENTS, B: "e" * 64}),  # another clip's source
        key_of(clips=[clip(B, 1, 5), clip(A, 0.5, 20.5, [(0.3, 0, 5)], crop=crop)]),  # sound
        key_of(render_options={"chunk_seconds": 2}),
    ]
    still = [clip(B, 1, 5), clip(A, 0.5, 20.5, crop=crop)]  # then the image's clip
    image = key_of(piece=2)
    # a still image shows the same picture at any time of its source
    assert key_of(piece=2, clips=[*still, clip(IMAGE, 3, 8, kind="image")]) == image
    assert same == [base] * len(same)
    flipped = {
        "content": key_of(contents={**CONTENTS, A: "f" * 64}),
        "source time": key_of(clips=[clip(B, 1, 5), clip(A, 0.6, 20.6, crop=crop)]),
        "crop": key_of(clips=[clip(B, 1, 5), clip(A, 0.5, 20.5)]),
        "size": key_of(video_output_resolution="320x180"),
        "fps": key_of(video_output_fps=25),
        "codec": key_of(video_output_format="webm", video_output_filename="o.webm"),
        "preset": key_of(render_options={"preset": "medium"}),
        "crf": key_of(render_options={"crf": 20}),
        "preview": key_of(render_options={"preview": True}),
        "image content": key_of(piece=2, contents={**CONTENTS, IMAGE: "0" * 64}),
        "image crop": key_of(piece=2, clips=[*still, clip(IMAGE, 0, 5, kind="image",
                                                          crop=crop)]),
    }
    monkeypatch.setattr(piece_keys, "ENGINE_SCHEMA", 2)
    piece_keys.engine_build.cache_clear()
    flipped["schema"] = key_of()
    monkeypatch.setattr(piece_keys, "x264_build", lambda: "core 999")
    piece_keys.engine_build.cache_clear()
    flipped["x264"] = key_of()
    for name, value in (("__version__", "0.0.0"), ("ffmpeg_version_info", "0.0"),
                        ("library_versions", {"libavcodec": (0, 0, 0)})):
        monkeypatch.setattr(piece_keys.av, name, value, raising=False)  # each on top: new key
        piece_keys.engine_build.cache_clear()
        flipped[name] = key_of()
    monkeypatch.undo()
    piece_keys.engine_build.cache_clear()
    assert key_of() == base
    assert len({base, image, *flipped.values()}) == len(flipped) + 2, flipped
    assert key_of(contents={B: "b" * 64}) is None  # A's content unknown: no key


def test_two_encodes_of_a_piece_are_the_same_bytes(media, tmp_path):
    source_id, path = media["a30"]
    edit, _ = parse_edit(make_edit([clip(source_id, 0.5, 8.5)]))
    timeline, _ = plan_from_infos(edit, {source_id: SourceInfo("video", 21, True, True)})
    span = plan_pieces(timeline, 2)[0][1]
    outputs = [render_piece(edit, {source_id: path}, span, str(tmp_path / f"{i}.mp4"),
                            timeline=timeline).output for i in range(2)]
    first, second = (open(p, "rb").read() for p in outputs)
    assert first == second
    with av.open(outputs[0]) as piece:  # the thread count is pinned, not the machine's
        packet = next(p for p in piece.demux(video=0) if p.size)
    assert b" threads=2 " in bytes(packet)
