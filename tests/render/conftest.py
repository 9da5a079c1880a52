"""Render fixtures: small synthetic sources (160x90, a few seconds each), made once."""
from __future__ import annotations

import uuid

import pytest

from tests.fixtures.mediakit import PALETTE, make_audio, make_image, make_video


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """{name: (source id, path)}: videos, a still, music and a jingle, each its own colours."""
    p = tmp_path_factory.mktemp("media")
    size = (160, 90)
    made = {
        "a30": make_video(p / "a30.mp4", size=size, fps=30, duration=21, tone_hz=440,
                          colors_per_second=PALETTE),
        "b25": make_video(p / "b25.mp4", size=size, fps=25, duration=21, tone_hz=660,
                          colors_per_second=PALETTE[5:] + PALETTE[:5]),
        "ntsc_mono44": make_video(p / "ntsc.mov", size=size, fps=29.97, duration=4, tone_hz=550,
                                  channels=1, sample_rate=44100, colors_per_second=PALETTE[2:6]),
        "vfr": make_video(p / "vfr.mp4", size=size, fps=30, duration=4, tone_hz=770, vfr=True,
                          colors_per_second=PALETTE[4:8]),
        "silent": make_video(p / "silent.mp4", size=size, fps=30, duration=4,
                             colors_per_second=PALETTE[6:10]),
        "still": make_image(p / "still.png", (120, 120), PALETTE[8]),
        "music": make_audio(p / "music.m4a", duration=25, tone_hz=1000),
        "jingle": make_audio(p / "jingle.wav", duration=1.5, tone_hz=1200, sample_rate=44100,
                             channels=1),
    }
    return {name: (str(uuid.uuid5(uuid.NAMESPACE_URL, name)), str(path))
            for name, path in made.items()}
