"""worker/render/video.py: fit, crop, zoom, position and rotation, measured on the pictures."""
from __future__ import annotations

import uuid

import pytest

from shared.edit import Crop, parse_edit
from tests.fixtures.mediakit import BLACK, PALETTE, make_video, nearest_color
from worker.render import render
from worker.render.video import frame_geometry

from tests.fixtures.edits import clip, make_edit
from tests.fixtures.measure import read_video

LEFT, RIGHT = PALETTE[0], PALETTE[2]


def test_fit_keeps_the_aspect_with_bars():
    g = frame_geometry((120, 90), (320, 180), None)  # 4:3 into 16:9
    assert g.crop == (0, 0, 120, 90) and g.scaled == (240, 180) and g.offset == (40, 0)
    assert frame_geometry((1920, 1080), (1920, 1080), None).is_identity((1920, 1080),
                                                                         (1920, 1080))


def test_cover_zoom_and_position_move_the_window():
    centre = frame_geometry((160, 90), (90, 160), Crop())  # 16:9 source, 9:16 output
    assert centre.scaled == (90, 160) and centre.offset == (0, 0)
    assert centre.crop[2:] == (51, 90) or centre.crop[2:] == (50, 90)
    assert abs(centre.crop[0] - 55) <= 1
    left = frame_geometry((160, 90), (90, 160), Crop(position_x=-1))
    right = frame_geometry((160, 90), (90, 160), Crop(position_x=1))
    assert left.crop[0] == 0 and right.crop[0] + right.crop[2] == 160


def test_zoom_below_one_shows_black_around():
    g = frame_geometry((160, 90), (160, 90), Crop(zoom=0.5))
    assert g.crop == (0, 0, 160, 90) and g.scaled == (80, 44) or g.scaled == (80, 46)
    assert g.offset[0] == 40


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    """A 4:3 source whose left half is red and right half blue, and rotated 16:9 ones."""
    folder = tmp_path_factory.mktemp("halves")
    plain = make_video(folder / "halves.mp4", size=(120, 90), duration=1,
                       colors_per_second=[LEFT], right_half=RIGHT)
    turned = {angle: str(make_video(folder / f"turned{angle}.mp4", size=(160, 90), duration=1,
                                    colors_per_second=[LEFT], right_half=RIGHT,
                                    rotation=angle))
              for angle in (90, 180, -90)}
    return str(plain), turned


def _picture(path, tmp_path, regions, **edit):
    source = str(uuid.uuid4())
    crop, kind = edit.pop("crop", None), edit.pop("kind", "videofile")
    body = make_edit([clip(source, 0, 0.5, crop=crop, kind=kind)], **edit)
    out = tmp_path / "out.mp4"
    render(parse_edit(body)[0], {source: path}, str(out))
    video = read_video(out, regions)
    assert video.frames == 15
    return [nearest_color(c) for c in video.colors[7]]


def test_letterbox_bars(halves, tmp_path):
    regions = [(0, 0.1, 0.3, 0.7), (0.2, 0.45, 0.3, 0.7), (0.55, 0.8, 0.3, 0.7),
               (0.9, 1, 0.3, 0.7)]
    assert _picture(halves[0], tmp_path, regions, video_output_resolution="320x180") == [
        BLACK, LEFT, RIGHT, BLACK]


@pytest.mark.parametrize("position_x, seen", [(-1, LEFT), (1, RIGHT)])
def test_crop_window_follows_position(halves, tmp_path, position_x, seen):
    regions = [(0.05, 0.95, 0.05, 0.95)]
    crop = {"zoom": 2, "position_x": position_x, "position_y": 0}
    assert _picture(halves[0], tmp_path, regions, video_output_resolution="320x180",
                    crop=crop) == [seen]


def test_zoom_out_leaves_black_around(halves, tmp_path):
    regions = [(0, 0.1, 0, 0.1), (0.3, 0.45, 0.4, 0.6), (0.55, 0.7, 0.4, 0.6), (0.4, 0.6, 0.9, 1)]
    crop = {"zoom": 0.5, "position_x": 0, "position_y": 0}
    assert _picture(halves[0], tmp_path, regions, video_output_resolution="320x180",
                    crop=crop) == [BLACK, LEFT, RIGHT, BLACK]


def test_auto_vertical_crop_fills_a_portrait_frame(halves, tmp_path):
    regions = [(0.05, 0.3, 0, 0.1), (0.05, 0.3, 0.4, 0.6), (0.7, 0.95, 0.4, 0.6),
               (0.7, 0.95, 0.9, 1)]
    assert _picture(halves[0], tmp_path, regions, video_output_resolution="90x160",
                    auto_vertical_crop="standard") == [LEFT, LEFT, RIGHT, RIGHT]


@pytest.mark.parametrize("angle, expected", [
    # Counter-clockwise: at 90 the left half ends at the bottom, portrait in landscape.
    (90, [RIGHT, LEFT, BLACK, BLACK]),
    (-90, [LEFT, RIGHT, BLACK, BLACK]),
    (180, [None, None, RIGHT, LEFT]),
])
def test_rotation_metadata_is_honoured(halves, tmp_path, angle, expected):
    regions = [(0.4, 0.6, 0.05, 0.4), (0.4, 0.6, 0.6, 0.95), (0, 0.2, 0.2, 0.8),
               (0.8, 1, 0.2, 0.8)]
    seen = _picture(halves[1][angle], tmp_path, regions)
    assert [s if e else None for s, e in zip(seen, expected)] == expected


def test_a_jpeg_still_of_odd_size_keeps_its_colour(tmp_path):
    from tests.fixtures.mediakit import make_image

    still = make_image(tmp_path / "odd.jpg", (121, 91), PALETTE[3])
    assert _picture(str(still), tmp_path, [(0.3, 0.7, 0.3, 0.7), (0, 0.05, 0.3, 0.7)],
                    kind="image") == [PALETTE[3], BLACK]  # 4:3, so bars at the sides
