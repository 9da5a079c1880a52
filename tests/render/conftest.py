"""Small synthetic sources, made once per session (160x90, a few seconds each)."""
from __future__ import annotations

import uuid

import pytest

from tests.mediakit import PALETTE, make_audio, make_image, make_video

SIZE = (160, 90)

# name -> (id, maker). Colours differ per source so that a frame tells where it came from.
SOURCES = {
    "a30": lambda p: make_video(p / "a30.mp4", size=SIZE, fps=30, duration=21, tone_hz=440,
                                colors_per_second=PALETTE),
    "b25": lambda p: make_video(p / "b25.mp4", size=SIZE, fps=25, duration=21, tone_hz=660,
                                colors_per_second=PALETTE[5:] + PALETTE[:5]),
    "ntsc_mono44": lambda p: make_video(p / "ntsc.mov", size=SIZE, fps=29.97, duration=4,
                                        tone_hz=550, channels=1, sample_rate=44100,
                                        colors_per_second=PALETTE[2:6]),
    "vfr": lambda p: make_video(p / "vfr.mp4", size=SIZE, fps=30, duration=4, tone_hz=770,
                                vfr=True, colors_per_second=PALETTE[4:8]),
    "silent": lambda p: make_video(p / "silent.mp4", size=SIZE, fps=30, duration=4,
                                   colors_per_second=PALETTE[6:10]),
    "still": lambda p: make_image(p / "still.png", (120, 120), PALETTE[8]),
    "music": lambda p: make_audio(p / "music.m4a", duration=25, tone_hz=1000),
    "jingle": lambda p: make_audio(p / "jingle.wav", duration=1.5, tone_hz=1200,
                                   sample_rate=44100, channels=1),
}


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """{name: (source id, path)} for every source above."""
    folder = tmp_path_factory.mktemp("media")
    return {name: (str(uuid.uuid5(uuid.NAMESPACE_URL, name)), str(make(folder)))
            for name, make in SOURCES.items()}


def base_edit(clips, overlays=(), **top) -> dict:
    """An edit body as the videojungle client sends it, 160x90 at 30 fps mp4 by default."""
    body = {
        "video_edit_version": "1.0", "video_output_format": "mp4",
        "video_output_resolution": "160x90", "video_output_fps": 30,
        "video_output_filename": "out.mp4", "skip_rendering": False,
        "video_series_sequential": list(clips), "audio_overlay": list(overlays),
        "subtitles": False, "auto_vertical_crop": None,
    }
    body.update(top)
    return body


def clip(source_id, start, end=None, levels=(), crop=None, kind="videofile") -> dict:
    return {"video_id": source_id, "type": kind, "video_start_time": start,
            "video_end_time": end, "audio_levels": [
                {"audio_level": lv, "start_time": a, "end_time": b} for lv, a, b in levels],
            "crop": crop}


def overlay(source_id, start=None, end=None, levels=(), **ext) -> dict:
    return {"audio_id": source_id, "type": "music", "audio_start_time": start,
            "audio_end_time": end, "audio_levels": [
                {"audio_level": lv, "start_time": a, "end_time": b} for lv, a, b in levels],
            **ext}
