"""worker.media.probe on synthetic media, good and broken."""
from __future__ import annotations

import hashlib
import shutil
from fractions import Fraction

import pytest

from tests.fixtures.mediakit import PALETTE, make_audio, make_image, make_video
from worker.media import ProbeError, probe
from worker.render.probe import source_keyframes

from tests.fixtures.badmedia import png_header_only, remux_faststart, silent_wav, truncate


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """3 s of 160x90 H.264 at 30 fps with a stereo 440 Hz tone."""
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", duration=3, tone_hz=440)


def test_video_with_audio(clip):
    result = probe(clip)
    assert result.media_kind == "video"
    assert result.content_type == "video/mp4"
    assert result.size == clip.stat().st_size
    assert result.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert result.duration == pytest.approx(3.0, abs=0.05)
    assert result.fps == 30.0
    assert (result.width, result.height, result.rotation) == (160, 90, 0)
    assert (result.video_codec, result.audio_codec) == ("h264", "aac")
    assert (result.sample_rate, result.channels) == (48000, 2)
    assert set(result.columns()) >= {"media_kind", "sha256", "channels"}
    # Its keyframes, as the piece plan cuts on them: what the renderer finds in the file.
    assert result.keyframes[0] == "0"
    assert [Fraction(t) for t in result.keyframes] == list(source_keyframes(str(clip)))
    assert "keyframes" not in result.described()


def test_silent_video_in_matroska(tmp_path):
    result = probe(make_video(tmp_path / "silent.mkv", size=(64, 48), fps=25, duration=1))
    assert (result.media_kind, result.content_type) == ("video", "video/x-matroska")
    assert (result.width, result.height, result.fps) == (64, 48, 25.0)
    assert result.audio_codec is None and result.sample_rate is None and result.channels is None


def test_rotated_video_reports_display_size(tmp_path):
    result = probe(make_video(tmp_path / "phone.mp4", duration=1, rotation=90))
    assert (result.width, result.height, result.rotation) == (90, 160, 90)


def test_faststart_mp4_is_whole(clip, tmp_path):
    result = probe(remux_faststart(clip, tmp_path / "fast.mp4"))
    assert result.media_kind == "video" and result.duration == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize(
    "name, content_type, codec",
    [("still.png", "image/png", "png"), ("still.jpg", "image/jpeg", "mjpeg")],
)
def test_images(tmp_path, name, content_type, codec):
    result = probe(make_image(tmp_path / name, (120, 80), PALETTE[3]))
    assert (result.media_kind, result.content_type, result.video_codec) == ("image", content_type, codec)
    assert (result.width, result.height) == (120, 80)
    assert result.duration is None and result.fps is None


def test_kind_comes_from_content_not_extension(tmp_path):
    png = make_image(tmp_path / "still.png", (32, 32))
    disguised = tmp_path / "holiday.mp4"
    shutil.copy(png, disguised)
    result = probe(disguised)
    assert (result.media_kind, result.content_type) == ("image", "image/png")


@pytest.mark.parametrize(
    "name, content_type, codec, channels",
    [("tone.wav", "audio/wav", "pcm_s16le", 2), ("tone.m4a", "audio/mp4", "aac", 1)],
)
def test_audio(tmp_path, name, content_type, codec, channels):
    result = probe(make_audio(tmp_path / name, duration=2, channels=channels, sample_rate=44100))
    assert (result.media_kind, result.content_type, result.audio_codec) == ("audio", content_type, codec)
    assert (result.sample_rate, result.channels) == (44100, channels)
    assert result.duration == pytest.approx(2.0, abs=0.05)
    assert result.width is None and result.video_codec is None and result.keyframes is None


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(ProbeError, match=r"empty \(0 bytes\)"):
        probe(empty)


def test_missing_file(tmp_path):
    with pytest.raises(ProbeError, match="does not exist"):
        probe(tmp_path / "nope.mp4")


def test_text_renamed_mp4(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("meeting notes, definitely not a video\n" * 40)
    with pytest.raises(ProbeError, match="not a media file"):
        probe(text)


def test_truncated_mp4_without_its_index(clip, tmp_path):
    with pytest.raises(ProbeError, match="moov atom"):
        probe(truncate(clip, tmp_path / "cut.mp4", 0.6))


def test_truncated_faststart_mp4(clip, tmp_path):
    fast = remux_faststart(clip, tmp_path / "fast.mp4")
    with pytest.raises(ProbeError, match=r"truncated: its media stops at 1\.\d+ s of 3\.00 s"):
        probe(truncate(fast, tmp_path / "cut.mp4", 0.5))


def test_image_too_wide(tmp_path):
    wide = make_image(tmp_path / "banner.png", (16400, 8), PALETTE[0])
    with pytest.raises(ProbeError, match="16400x8: more than 16384 pixels a side"):
        probe(wide)


def test_image_with_too_many_pixels(tmp_path):
    bomb = png_header_only(tmp_path / "bomb.png", 12000, 9000)  # 108 Mpx, 12000 < 16384
    with pytest.raises(ProbeError, match="larger than 100 megapixels"):
        probe(bomb)


def test_wav_without_samples(tmp_path):
    with pytest.raises(ProbeError, match="no samples"):
        probe(silent_wav(tmp_path / "silence.wav"))


def test_playlist_cannot_reach_other_files(clip, tmp_path):
    # An ffconcat "upload" naming a file on the worker's disk must not be read through.
    playlist = tmp_path / "list.mp4"
    playlist.write_text(f"ffconcat version 1.0\nfile {clip}\n")
    with pytest.raises(ProbeError, match="not a media file"):
        probe(playlist)
