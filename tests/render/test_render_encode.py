"""worker/render/encode.py: encoder choice and options."""
from __future__ import annotations

import pytest

import worker.render.encode as encode
from worker.render import GpuUnavailableError


def test_default_options_are_veryfast_crf_23():
    stitchable = {"x264-params": "stitchable=1:open-gop=0"}
    assert encode.video_options("libx264", None, None) == {"preset": "veryfast", "crf": "23",
                                                           **stitchable}
    assert encode.video_options("libx264", "slow", 18) == {"preset": "slow", "crf": "18",
                                                           **stitchable}
    assert encode.video_options("h264_nvenc", "veryfast", None)["preset"] == "p2"
    assert encode.video_options("h264_nvenc", "p6", 20)["cq"] == "20"
    vp9 = encode.video_options("libvpx-vp9", None, None)
    assert vp9["crf"] == "32" and vp9["b"] == "0"


def test_codec_choice(monkeypatch):
    monkeypatch.setattr(encode, "gpu_available", lambda: False)
    assert encode.choose_video_codec("mp4", "auto") == ("libx264", [])
    assert encode.choose_video_codec("mov", "cpu") == ("libx264", [])
    codec, notes = encode.choose_video_codec("webm", "gpu")
    assert codec == "libvpx-vp9" and notes
    with pytest.raises(GpuUnavailableError):
        encode.choose_video_codec("mp4", "gpu")
    monkeypatch.setattr(encode, "gpu_available", lambda: True)
    assert encode.choose_video_codec("mp4", "auto") == ("h264_nvenc", [])
    assert encode.choose_video_codec("mp4", "cpu") == ("libx264", [])


def test_gpu_probe_answers_without_raising():
    assert encode.gpu_available() in (True, False)
