"""worker/render/audio.py: envelopes, fades, the limiter, and reading sources at a start."""
from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.mediakit import make_audio, make_video, sine
from worker.render.audio import (FADE_SAMPLES, LIMIT_KNEE, LevelEnvelope, SourceAudio,
                                 edge_fade, soft_limit)

from tests.fixtures.measure import db, tone_amplitude


def test_envelope_later_ranges_win_and_one_elsewhere():
    env = LevelEnvelope([(2, 6, 0.5), (4, 5, 1.5)], domain=(0, 10))
    at = lambda t: float(env.gains(t, 1)[0])  # noqa: E731
    assert at(1) == pytest.approx(1.0)
    assert at(3) == pytest.approx(0.5)
    assert at(4.5) == pytest.approx(1.5)
    assert at(5.5) == pytest.approx(0.5)
    assert at(8) == pytest.approx(1.0)


def test_envelope_ramps_over_ten_ms_centred_on_the_change():
    env = LevelEnvelope([(1.0, None, 0.2)], domain=(0, 2))
    gains = env.gains(0.99, 960)  # 0.99 s .. 1.01 s
    assert gains[0] == pytest.approx(1.0) and gains[-1] == pytest.approx(0.2)
    moving = np.flatnonzero((gains < 0.9999) & (gains > 0.2001))
    assert 470 <= len(moving) <= 481  # 10 ms at 48 kHz
    assert np.all(np.diff(gains) <= 1e-5)  # monotonic (to float precision): no overshoot
    assert gains[480] == pytest.approx(0.6, abs=0.01)  # half-way at the change itself


def test_envelope_holds_its_edge_levels_outside_the_domain():
    env = LevelEnvelope([(10, 20, 0.7)], domain=(10, 20))
    assert env.constant == pytest.approx(0.7)
    assert env.gains(10.0, 4).tolist() == pytest.approx([0.7] * 4)


def test_edge_fade_is_flat_in_the_middle():
    assert edge_fade(1000, 100, 48000) is None
    head = edge_fade(0, FADE_SAMPLES, 48000)
    assert head[0] < 0.01 and head[-1] > 0.99 and np.all(np.diff(head) > 0)
    tail = edge_fade(48000 - 10, 10, 48000)
    assert tail[-1] < 0.01


def test_soft_limit_keeps_quiet_samples_and_never_passes_full_scale():
    x = np.linspace(-3, 3, 10001, dtype=np.float32)[None, :].repeat(2, axis=0)
    y = soft_limit(x.copy())
    quiet = np.abs(x) <= LIMIT_KNEE
    assert np.array_equal(y[quiet], x[quiet])
    assert np.all(np.abs(y) <= 1.0)
    assert np.all(np.diff(y[0]) >= 0)  # monotonic, continuous: peaks bend, never wrap
    assert np.max(np.abs(np.diff(y[0]))) <= np.max(np.abs(np.diff(x[0]))) + 1e-6


@pytest.mark.parametrize("rate, channels, suffix", [(48000, 2, ".wav"), (44100, 1, ".m4a"),
                                                    (48000, 2, ".ogg")])
def test_source_audio_starts_at_the_sample(tmp_path, rate, channels, suffix):
    path = make_audio(tmp_path / f"t{suffix}", duration=3, tone_hz=500, sample_rate=rate,
                      channels=channels)
    reader = SourceAudio(str(path), 1.25)
    block = reader.read(48000)
    reader.close()
    assert block.shape == (2, 48000) and block.dtype == np.float32
    # 500 Hz from 1.25 s on has phase 2*pi*500*1.25 = whole cycles: the same as a fresh sine.
    expected = sine(1.0, 500, 48000, 2, 0.5)
    assert abs(db(tone_amplitude(block, 500, 48000, 0.1, 0.8), 0.5)) < 0.3
    correlation = np.dot(block[0, 4800:43200], expected[0, 4800:43200])
    assert correlation > 0.95 * np.dot(expected[0, 4800:43200], expected[0, 4800:43200])
    assert np.allclose(block[0], block[1])


def test_source_audio_pads_and_fades_at_its_end(tmp_path):
    path = make_audio(tmp_path / "short.wav", duration=0.5, tone_hz=1000)
    reader = SourceAudio(str(path), 0.0)
    block = reader.read(48000)
    assert reader.ended
    assert np.all(block[:, 24000:] == 0)
    assert np.abs(block[:, 24000 - 5:24000]).max() < 0.02  # faded out, no click
    reader.close()


def test_source_without_audio_reads_as_silence(tmp_path):
    path = make_video(tmp_path / "mute.mp4", duration=1)
    reader = SourceAudio(str(path), 0.5)
    assert not reader.read(1000).any()
    reader.close()


@pytest.mark.parametrize("amplitude", [0.5, 0.0])
def test_a_short_overlay_loops_to_fill_its_window(tmp_path, amplitude):
    from worker.render.audio import OverlayTrack
    from worker.render.timeline import SoundOverlay

    path = make_audio(tmp_path / "blip.wav", duration=0.1, tone_hz=1000, amplitude=amplitude)
    track = OverlayTrack(SoundOverlay(0, "x", 0, 48000, 0.0, True, ()), str(path))
    mix = np.zeros((2, 48000), dtype=np.float32)
    for start in range(0, 48000, 1024):
        block = mix[:, start:start + 1024]
        track.mix_into(block, start)  # a view: writes land in `mix`
    track.close()
    if amplitude:  # sound in every 0.1 s, fades only at the seams
        assert abs(db(tone_amplitude(mix, 1000, 48000, 0.5, 0.1), 0.5)) < 1.0
        assert all(np.abs(mix[0, i:i + 2400]).max() > 0.4 for i in range(0, 48000, 4800))
    else:  # a silent source loops without hanging
        assert not mix.any()
