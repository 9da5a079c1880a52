"""End to end: render edits from synthetic sources, decode the output and measure it."""
from __future__ import annotations

import pytest

from shared.edit import parse_edit
from tests.fixtures.mediakit import PALETTE, nearest_color
from worker.render import render

from tests.fixtures.edits import clip, make_edit, overlay
from tests.fixtures.measure import db, frame_times, shown_second, largest_click, read_audio, read_video, tone_amplitude


def _render(body, media_paths, out, **kwargs):
    edit, _ = parse_edit(body)
    return render(edit, media_paths, str(out), **kwargs)


def _paths(media):
    return {source_id: path for source_id, path in media.values()}


def test_seed_example_exact_lengths_colours_and_levels(media, tmp_path):
    """The seed's edit, at its 1920x1080 and 30 fps."""
    a, b, music = media["a30"][0], media["b25"][0], media["music"][0]
    body = make_edit(
        [clip(a, "00:00:00", "00:00:10", [("0.5", "00:00:00", "00:00:10")]),
         clip(b, "00:00:10", "00:00:20", [("0.7", "00:00:10", "00:00:20")])],
        [overlay(music, "00:00:00", "00:00:20", [("0.5", None, None)])],
        video_output_resolution="1920x1080", video_output_fps=30.0)
    result = _render(body, _paths(media), tmp_path / "seed.mp4")
    assert (result.frames, result.samples) == (600, 960000)

    video = read_video(tmp_path / "seed.mp4", step=7)
    assert video.frames == 600
    b_colors = PALETTE[5:] + PALETTE[:5]
    for k in range(0, 600, 7):
        t = k / 30 if k < 300 else 10 + (k - 300) / 30
        expected = (PALETTE if k < 300 else b_colors)[int(t) % 10]
        assert nearest_color(video.colors[k][0]) == expected, k

    audio, rate, declared = read_audio(tmp_path / "seed.mp4")
    assert (rate, declared) == (48000, 960000)
    assert audio.shape[1] == 960000
    for start in (1.0, 5.0, 9.0):
        assert abs(db(tone_amplitude(audio, 440, rate, start), 0.25)) < 0.5
        assert abs(db(tone_amplitude(audio, 1000, rate, start), 0.25)) < 0.5
        assert tone_amplitude(audio, 660, rate, start) < 0.005
    for start in (11.0, 15.0, 19.0):
        assert abs(db(tone_amplitude(audio, 660, rate, start), 0.35)) < 0.5
        assert abs(db(tone_amplitude(audio, 1000, rate, start), 0.25)) < 0.5
        assert tone_amplitude(audio, 440, rate, start) < 0.005
    assert largest_click(audio) < 0.05  # no click at the cut
    assert abs(video.end - declared / rate) <= 1 / 30


@pytest.mark.parametrize("fmt, codecs", [("mp4", ("h264", "aac")), ("mov", ("h264", "aac")),
                                         ("webm", ("vp9", "opus"))])
def test_each_format_decodes(media, tmp_path, fmt, codecs):
    import av

    body = make_edit([clip(media["a30"][0], 0, 1.5)], video_output_format=fmt.upper(),
                     video_output_filename="x.mov")
    out = tmp_path / f"out.{fmt}"
    result = _render(body, _paths(media), out)
    assert (result.frames, result.samples) == (45, 72000)
    with av.open(str(out)) as container:
        assert (container.streams.video[0].codec_context.name,
                container.streams.audio[0].codec_context.name) == codecs
    assert read_video(out).frames == 45
    audio, rate, declared = read_audio(out)
    assert declared == 72000 and audio.shape[1] == 72000
    assert abs(db(tone_amplitude(audio, 440, rate, 0.5), 0.5)) < 0.5


def test_mixed_sources_rates_vfr_mono_silent_and_image(media, tmp_path):
    clips = [clip(media["ntsc_mono44"][0], 0, 2),   # 29.97 fps, mono 44.1 kHz
             clip(media["vfr"][0], 1, 3),            # variable frame rate
             clip(media["silent"][0], 0, 2),         # no audio stream
             clip(media["still"][0], 0, 1.5, kind="image"),
             clip(media["b25"][0], 0, 2)]            # 25 fps
    out = tmp_path / "mixed.mp4"
    result = _render(make_edit(clips), _paths(media), out)
    assert (result.frames, result.samples) == (285, 456000)

    video = read_video(out)
    assert video.frames == 285
    sections = [  # (first frame, source, its colours, source start)
        (0, "ntsc_mono44", PALETTE[2:6], 0), (60, "vfr", PALETTE[4:8], 1),
        (120, "silent", PALETTE[6:10], 0)]
    for first, name, colors, start in sections:
        times = frame_times(media[name][1])
        for k in range(first, first + 60):
            second = shown_second(times, start + (k - first) / 30)
            assert nearest_color(video.colors[k][0]) == colors[second % len(colors)], k
    assert all(nearest_color(c[0]) == PALETTE[8] for c in video.colors[180:225])
    assert nearest_color(video.colors[230][0]) == PALETTE[5]

    audio, rate, _ = read_audio(out)
    for channel in (0, 1):  # mono duplicated at full level, resampled from 44.1 kHz
        assert abs(db(tone_amplitude(audio, 550, rate, 0.5, channel=channel), 0.5)) < 0.5
    assert abs(db(tone_amplitude(audio, 770, rate, 2.5), 0.5)) < 0.5
    assert max(abs(audio[:, int(4.05 * rate):int(5.95 * rate)]).max(), 0) < 0.01  # silent
    assert abs(audio[:, int(6.05 * rate):int(7.45 * rate)]).max() < 0.01  # the image
    assert abs(db(tone_amplitude(audio, 660, rate, 8.0), 0.5)) < 0.5
    assert largest_click(audio) < 0.05
    assert abs(video.end - audio.shape[1] / rate) <= 1 / 30


def test_levels_ramp_inside_a_clip_and_overlays_on_the_output(media, tmp_path):
    a, music, jingle = media["a30"][0], media["music"][0], media["jingle"][0]
    clips = [clip(a, 2, 6, [(0.25, 2, 4), (1.4, 3, 4), (0.2, 4, 5), (0, 5, None)])]
    overlays = [overlay(music, 1, 3, [(0.2, None, None), (1.4, 2, 3)], source_start_time=10),
                overlay(jingle, 0.5, None, [(0.1, None, None)], loop=True)]
    out = tmp_path / "levels.mp4"
    _render(make_edit(clips, overlays), _paths(media), out)
    audio, rate, declared = read_audio(out)
    assert declared == 4 * 48000
    # (output time, clip tone, music tone); the clip's levels are in its source time (+2 s).
    expect = [(0.25, 0.125, 0), (1.25, 0.7, 0.1), (2.25, 0.1, 0.7), (3.25, 0, 0)]
    for start, tone, music_tone in expect:
        for hz, amplitude in ((440, tone), (1000, music_tone)):
            measured = tone_amplitude(audio, hz, rate, start)
            if amplitude:
                assert abs(db(measured, amplitude)) < 0.5, (start, hz)
            else:
                assert measured < 0.003, (start, hz)
    for start in (0.75, 2.25, 3.25):  # 1.5 s jingle looped from 0.5 s to the end
        assert abs(db(tone_amplitude(audio, 1200, rate, start, length=0.25), 0.05)) < 0.5
    assert tone_amplitude(audio, 1200, rate, 0.0, length=0.45) < 0.003
    assert largest_click(audio) < 0.05


def test_peaks_above_full_scale_are_soft_limited(media, tmp_path):
    body = make_edit([clip(media["a30"][0], 0, 1, [(2.0, None, None)])],
                     [overlay(media["music"][0], levels=[(2.0, None, None)])])
    out = tmp_path / "loud.mp4"
    _render(body, _paths(media), out)
    audio, _, _ = read_audio(out)
    # Limited to full scale in the mix (see test_render_audio); AAC overshoots a little.
    assert 0.9 < abs(audio).max() <= 1.06
    assert largest_click(audio) < 0.3  # a wrap-around would jump by about 2
