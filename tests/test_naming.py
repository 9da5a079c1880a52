"""User-given file names are made safe before they become keys or headers."""
import pytest

from shared.naming import clean_filename


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("clip.mp4", "clip.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\holiday.mov", "holiday.mov"),
        ("bell\x07and\nnewline.mp4", "bellandnewline.mp4"),
        ("...hidden.mp4", "hidden.mp4"),
        ("", "upload"),
        (None, "upload"),
        ("/", "upload"),
        ("x" * 300 + ".mp4", "x" * 196 + ".mp4"),
    ],
)
def test_clean_filename(raw, clean):
    assert clean_filename(raw) == clean
