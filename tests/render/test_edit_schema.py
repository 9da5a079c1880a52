"""shared/edit.py, edit_fields.py and edit_sources.py: every rule of the edit, broken once,
answers with the right field path."""
from __future__ import annotations

import copy
import datetime as dt
import uuid
from fractions import Fraction

import pytest
from pydantic import ValidationError

from shared.edit import VideoEdit, parse_edit
from shared.edit_fields import parse_time
from shared.edit_sources import EditSourceError, SourceInfo, check_sources, clamp_to_sources

A, B, M = (str(uuid.UUID(int=i, version=4)) for i in (1, 2, 3))

SEED = {
    "name": "seed", "description": "two clips and music",
    "video_edit_version": "1.0", "video_output_format": "mp4",
    "video_output_resolution": "1920x1080", "video_output_fps": 30.0,
    "video_output_filename": "output_video.mp4", "skip_rendering": False,
    "video_series_sequential": [
        {"video_id": A, "type": "videofile", "video_start_time": "00:00:00",
         "video_end_time": "00:00:10",
         "audio_levels": [{"audio_level": "0.5", "start_time": "00:00:00",
                           "end_time": "00:00:10"}], "crop": None},
        {"video_id": B, "type": "videofile", "video_start_time": "00:00:10.000000",
         "video_end_time": "00:00:20.000000",
         "audio_levels": [{"audio_level": 0.7, "start_time": "00:00:10",
                           "end_time": "00:00:20"}]},
    ],
    "audio_overlay": [{"audio_id": M, "type": "music", "audio_start_time": "00:00:00",
                       "audio_end_time": "00:00:20", "audio_levels": [{"audio_level": 0.5}]}],
}


def _with(path: tuple, value) -> dict:
    body = copy.deepcopy(SEED)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _locs(body) -> list[tuple]:
    with pytest.raises(ValidationError) as info:
        VideoEdit.model_validate(body)
    return [err["loc"] for err in info.value.errors()]


CLIP0 = ("video_series_sequential", 0)
BROKEN = [
    (("video_edit_version",), "2.0"),
    (("video_output_format",), "avi"),
    (("video_output_resolution",), "1920x1081"),  # odd
    (("video_output_resolution",), "8x8"),  # too small
    (("video_output_resolution",), "4096x4096"),  # area above 3840x2160
    (("video_output_resolution",), "big"),
    (("video_output_fps",), 0),
    (("video_output_fps",), 121),
    (("video_output_filename",), ""),
    (("video_output_filename",), "x" * 201),
    (("video_output_filename",), "/\\/"),  # nothing left once separators are gone
    (("video_series_sequential",), []),
    (("audio_overlay",), [SEED["audio_overlay"][0]] * 51),
    (("auto_vertical_crop",), "wide"),
    (CLIP0 + ("video_id",), "not-a-uuid"),
    (CLIP0 + ("type",), "gif"),
    (CLIP0 + ("video_start_time",), "-00:00:01"),
    (CLIP0 + ("video_start_time",), "soon"),
    (CLIP0 + ("video_start_time",), -3),
    (CLIP0 + ("video_start_time",), "00:61:00"),
    (CLIP0 + ("video_start_time",), "٣"),  # an Arabic-Indic 3: int() and \d take it
    (CLIP0 + ("video_start_time",), "00:00:٠٣"),
    (CLIP0 + ("video_start_time",), "1_000"),  # float() takes it
    (CLIP0 + ("video_start_time",), "00:00:01+01:00"),  # only a zero UTC offset means nothing
    (CLIP0 + ("video_start_time",), "1Z"),
    (("video_output_resolution",), "١٩٢٠x١٠٨٠"),
    (CLIP0 + ("video_end_time",), "00:00:00"),  # end <= start
    (CLIP0 + ("audio_levels", 0, "audio_level"), "2.5"),
    (CLIP0 + ("audio_levels", 0, "audio_level"), "loud"),
    (CLIP0 + ("audio_levels", 0, "end_time"), "00:00:00"),
    (CLIP0 + ("crop", "zoom"), 11),
    (CLIP0 + ("crop", "position_x"), 1.5),
    (CLIP0 + ("crop", "position_y"), -1.5),
    (("audio_overlay", 0, "audio_id"), 42),
    (("audio_overlay", 0, "audio_end_time"), "00:00:00"),
    (("audio_overlay", 0, "source_start_time"), "-1"),
    (("audio_overlay", 0, "loop"), "sometimes"),
    (("render_options", "encoder"), "tpu"),
    (("render_options", "preset"), "very fast!"),
    (("render_options", "crf"), 70),
    (("render_options", "chunk_seconds"), 1),
    (("render_options", "chunk_seconds"), -2),
    (("render_options", "chunk_seconds"), "soon"),
    (("render_options", "chunk_seconds"), float("inf")),
    (("render_options", "preview"), "yes"),
    (("render_options", "preview"), 1),
    (("render_options", "preview"), None),
]


@pytest.mark.parametrize("path, value", BROKEN, ids=lambda v: str(v)[:30])
def test_a_broken_rule_names_its_field(path, value):
    if path[-1] in ("zoom", "position_x", "position_y"):
        body = _with(path[:-1], {path[-1]: value})
    elif path[0] == "render_options":
        body = _with(("render_options",), {path[1]: value})
    else:
        body = _with(path, value)
    assert _locs(body) == [path]


def test_a_long_non_ascii_output_filename_is_cut_to_fit_a_file_name():
    """195 emoji are 780 bytes: past any file system's 255-byte names, though < 200 chars."""
    edit = VideoEdit.model_validate(_with(("video_output_filename",), "😀" * 195 + ".mp4"))
    name = edit.video_output_filename
    assert name.endswith(".mp4") and set(name[:-4]) == {"😀"} and len(name.encode()) <= 150


def test_crf_above_51_is_only_for_webm():
    assert _locs(_with(("render_options",), {"crf": 55})) == [("render_options",)]
    body = _with(("render_options",), {"crf": 55})
    body["video_output_format"] = "webm"
    assert VideoEdit.model_validate(body).render_options.crf == 55


@pytest.mark.parametrize("given, expected", [(None, 30.0), (0, 0.0), (2, 2.0), ("12.5", 12.5)])
def test_chunk_seconds_defaults_to_the_workers_setting(given, expected):
    body = _with(("render_options",), {} if given is None else {"chunk_seconds": given})
    assert VideoEdit.model_validate(body).chunk_seconds(default=30.0) == expected
    assert VideoEdit.model_validate(_with(("video_output_fps",), 30)).chunk_seconds(30.0) == 30.0


@pytest.mark.parametrize("resolution, size", [("1920x1080", (960, 540)),
                                              ("160x90", (80, 46)), ("18x16", (10, 8))])
def test_a_preview_is_half_the_size_rounded_to_even(resolution, size):
    body = _with(("video_output_resolution",), resolution)
    assert VideoEdit.model_validate(body).output_size == tuple(map(int, resolution.split("x")))
    body["render_options"] = {"preview": True}
    edit = VideoEdit.model_validate(body)
    assert (edit.preview, edit.output_size) == (True, size)
    assert edit.video_output_resolution == resolution  # what was asked for stays


def test_missing_required_fields():
    body = copy.deepcopy(SEED)
    del body["video_series_sequential"][1]["video_start_time"]
    del body["video_output_fps"]
    assert sorted(_locs(body), key=str) == [("video_output_fps",),
                                            ("video_series_sequential", 1, "video_start_time")]


@pytest.mark.parametrize("text, seconds", [
    ("00:00:10.500000", 10.5), ("01:02:03", 3723), ("02:03.5", 123.5), ("7.25", 7.25),
    (12, 12), (0.5, 0.5), (dt.time(0, 1, 2, 500000), 62.5), (" 00:00:01 ", 1),
    # what the client's models write for a number of seconds: a UTC time of day
    ("00:00:01Z", 1), ("00:01:02.500000Z", 62.5), ("00:00:03+00:00", 3), ("00:03-0000", 3)])
def test_time_forms(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("given, exact", [(29.97, Fraction(30000, 1001)),
                                          (23.976, Fraction(24000, 1001)),
                                          (59.94, Fraction(60000, 1001)), (25, Fraction(25)),
                                          (12.5, Fraction(25, 2))])
def test_fps_becomes_an_exact_rational(given, exact):
    assert VideoEdit.model_validate(_with(("video_output_fps",), given)).fps == exact


def test_normalized_fields():
    body = _with(("video_output_format",), "WebM")
    body.update(video_output_filename="../a/b\\c\x00d.mp4", auto_vertical_crop="Tight",
                video_output_resolution="1280X720", video_edit_version="1.0")
    body["video_series_sequential"][0]["audio_levels"][0]["audio_level"] = "1.5"
    edit = VideoEdit.model_validate(body)
    assert edit.video_output_format == "webm"
    assert edit.video_output_filename == "abcd.webm"
    assert edit.auto_vertical_crop == "tight"
    assert (edit.width, edit.height) == (1280, 720)
    assert edit.video_series_sequential[0].audio_levels[0].audio_level == 1.5
    assert VideoEdit.model_validate(_with(("video_output_filename",), "my.cut")
                                    ).video_output_filename == "my.cut.mp4"


def test_unknown_keys_and_subtitles_are_warnings():
    body = _with(("colour_grade",), "warm")
    body["video_series_sequential"][0]["speed"] = 2
    body["audio_overlay"][0]["audio_levels"][0]["pan"] = -1
    body.update(subtitles=True, subtitle_from_audio_overlay=True)
    edit, warnings = parse_edit(body)
    assert edit.warnings == warnings
    text = " | ".join(warnings)
    for name in ("colour_grade", "video_series_sequential.0.speed",
                 "audio_overlay.0.audio_levels.0.pan", "subtitles", "subtitle_from_audio_overlay"):
        assert name in text
    assert parse_edit(SEED)[1] == []


def test_round_trip_through_json():
    edit, _ = parse_edit(_with(("render_options",), {"encoder": "GPU", "preset": "fast",
                                                     "crf": 20}))
    stored = edit.model_dump(mode="json")
    again = VideoEdit.model_validate(stored)
    assert again == edit and again.model_dump(mode="json") == stored
    assert again.encoder == "gpu"


def test_the_videojungle_client_model_serializes_to_a_valid_edit():
    from videojungle.model import VideoEditCreate

    created = VideoEditCreate.model_validate(SEED)
    edit, warnings = parse_edit(created.model_dump(mode="json"))
    assert edit.video_series_sequential[1].video_start_time == 10.0
    assert edit.video_series_sequential[0].audio_levels[0].audio_level == 0.5
    assert any("subtitles" in w for w in warnings)  # the client sends subtitles: true


# --- rules that need the sources ---------------------------------------------------

VIDEO = SourceInfo("video", 20.0, has_audio=True, has_video=True)
SILENT_AUDIO = SourceInfo("video", 20.0, has_audio=False, has_video=True)
IMAGE = SourceInfo("image", None, has_audio=False, has_video=True)
MUSIC = SourceInfo("audio", 30.0, has_audio=True, has_video=False)


def _source_errors(body, sources) -> list[tuple[tuple, str]]:
    with pytest.raises(EditSourceError) as info:
        check_sources(VideoEdit.model_validate(body), sources)
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors]


def test_seed_fits_its_sources():
    assert check_sources(VideoEdit.model_validate(SEED), {A: VIDEO, B: VIDEO, M: MUSIC}) == []


@pytest.mark.parametrize("path, value, sources, loc, msg", [
    (CLIP0 + ("video_id",), str(uuid.UUID(int=9, version=4)), {}, CLIP0 + ("video_id",),
     "unknown video_id"),
    (CLIP0 + ("video_start_time",), 25, {}, CLIP0 + ("video_start_time",), "starts"),
    (CLIP0 + ("video_end_time",), 20.5, {}, CLIP0 + ("video_end_time",), "ends"),
    (CLIP0 + ("video_end_time",), None, {A: IMAGE}, CLIP0 + ("video_end_time",), "image"),
    (CLIP0 + ("video_id",), M, {}, CLIP0 + ("video_id",), "no video"),
    (("audio_overlay", 0, "audio_id"), A, {A: SILENT_AUDIO}, ("audio_overlay", 0, "audio_id"),
     "no audio"),
    (("audio_overlay", 0, "audio_id"), str(uuid.UUID(int=8, version=4)), {},
     ("audio_overlay", 0, "audio_id"), "unknown audio_id"),
    (("audio_overlay", 0, "source_start_time"), 31, {}, ("audio_overlay", 0, "source_start_time"),
     "starts"),
])
def test_a_broken_source_rule_names_its_field(path, value, sources, loc, msg):
    infos = {A: VIDEO, B: VIDEO, M: MUSIC, **sources}
    body = _with(path, value)
    if path[-1] == "video_start_time":
        body["video_series_sequential"][0]["video_end_time"] = None  # the source's end
    [(got_loc, got_msg)] = _source_errors(body, infos)
    assert got_loc == loc and msg in got_msg


def test_an_end_just_past_the_source_is_clamped_with_a_warning():
    body = _with(CLIP0 + ("video_end_time",), 20.4)
    body["video_series_sequential"][1]["video_end_time"] = None
    edit = VideoEdit.model_validate(body)
    sources = {A: VIDEO, B: VIDEO, M: MUSIC}
    warnings = check_sources(edit, sources)
    assert len(warnings) == 1 and "clamped" in warnings[0]
    clamped = clamp_to_sources(edit, sources)
    assert [c.video_end_time for c in clamped.video_series_sequential] == [20.0, 20.0]


def test_an_image_clip_cannot_outlast_the_output_cap():
    body = _with(CLIP0 + ("type",), "image")
    body["video_series_sequential"][0]["video_end_time"] = 1e9
    [(loc, msg)] = _source_errors(body, {A: IMAGE, B: VIDEO, M: MUSIC})
    assert loc == CLIP0 + ("video_end_time",) and "CANOPY_MAX_OUTPUT_SECONDS" in msg


def test_the_clip_that_passes_the_cap_is_named():
    edit = VideoEdit.model_validate(SEED)  # two clips of 10 s
    sources = {A: VIDEO, B: VIDEO, M: MUSIC}
    assert check_sources(edit, sources, max_output_seconds=20) == []
    with pytest.raises(EditSourceError) as info:
        check_sources(edit, sources, max_output_seconds=15)
    assert [e["loc"] for e in info.value.errors] == [["video_series_sequential", 1, "video_end_time"]]


def test_an_image_clip_lasts_end_minus_start():
    body = _with(CLIP0 + ("type",), "image")
    assert check_sources(VideoEdit.model_validate(body), {A: IMAGE, B: VIDEO, M: MUSIC}) == []
