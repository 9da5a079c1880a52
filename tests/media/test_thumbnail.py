"""worker.media.thumbnail: the right picture, upright, small, and a real JPEG."""
from __future__ import annotations

import av
import pytest

from tests.fixtures.mediakit import PALETTE, make_audio, make_image, make_video, nearest_color
from worker.media import ProbeError, make_thumbnail, probe


def _pixels(path):
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_video_thumbnail_is_taken_near_ten_percent(tmp_path):
    # Second s is PALETTE[s]: 10% of 10 s lands in the second second.
    clip = make_video(tmp_path / "ten.mp4", size=(160, 90), fps=10, duration=10, tone_hz=440)
    out = tmp_path / "thumb.jpg"
    assert make_thumbnail(clip, out, max_size=64) == (64, 36)
    picture = _pixels(out)
    assert picture.shape == (36, 64, 3)
    assert nearest_color(picture[18, 32]) == PALETTE[1]
    described = probe(out)
    assert (described.content_type, described.width, described.height) == ("image/jpeg", 64, 36)


def test_image_thumbnail_is_never_enlarged(tmp_path):
    still = make_image(tmp_path / "still.png", (120, 80), PALETTE[5])
    out = tmp_path / "thumb.jpg"
    assert make_thumbnail(still, out, max_size=320) == (120, 80)
    assert nearest_color(_pixels(out)[40, 60]) == PALETTE[5]


def test_rotated_video_thumbnail_is_upright(tmp_path):
    # Right half blue, turned 90 degrees counter-clockwise for display: blue ends on top.
    clip = make_video(tmp_path / "phone.mp4", duration=1, colors_per_second=[PALETTE[0]],
                      right_half=PALETTE[2], rotation=90)
    out = tmp_path / "thumb.jpg"
    assert make_thumbnail(clip, out, max_size=100) == (56, 100)
    picture = _pixels(out)
    assert nearest_color(picture[10, 28]) == PALETTE[2]
    assert nearest_color(picture[90, 28]) == PALETTE[0]


def test_audio_has_no_thumbnail(tmp_path):
    with pytest.raises(ProbeError, match="no picture"):
        make_thumbnail(make_audio(tmp_path / "tone.wav", duration=1), tmp_path / "t.jpg")
