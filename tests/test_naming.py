"""User-given file names are made safe before they become keys or headers."""
import pytest

from shared.naming import clean_filename, without_paths


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
        ("x" * 300 + ".mp4", "x" * 146 + ".mp4"),
        ("é" * 190 + ".mp4", "é" * 73 + ".mp4"),  # 2 bytes each: 146 + 4 bytes
        ("😀" * 150 + ".mp4", "😀" * 36 + ".mp4"),  # 4 bytes each, never half a character
        ("a." + "é" * 300, "a." + "é" * 37),  # a long "extension" is cut too
    ],
)
def test_clean_filename(raw, clean):
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("raw", ["é" * 190 + ".mp4", "😀" * 150 + ".mp4", "x." + "😀" * 200,
                                 "e\u0301" * 120 + ".mov"])
def test_clean_filename_fits_a_file_name_on_disk(raw, tmp_path):
    """A name on disk is at most 255 bytes: every clean name can be created as a file."""
    name = clean_filename(raw)
    assert len(name.encode()) <= 150 and name.encode().decode() == name
    (tmp_path / name).write_bytes(b"x")


@pytest.mark.parametrize("raw, public", [
    ("[Errno 36] File name too long: '/srv/var/cache/renders/tmpa1/😀😀.mp4'",
     "[Errno 36] File name too long: '😀😀.mp4'"),
    ("No such file or directory: '/my cache/x.part' -> '/my cache/out.mp4'",
     "No such file or directory: 'x.part' -> 'out.mp4'"),
    ("could not open /var/lib/canopy/objects/u/p/a/clip.mp4: EOF", "could not open clip.mp4: EOF"),
    ("fetching http://example.com/a/b.mp4 failed", "fetching http://example.com/a/b.mp4 failed"),
    ("source 9f0c: codec h264/aac, 1/30 s", "source 9f0c: codec h264/aac, 1/30 s"),
])
def test_reasons_never_show_server_paths(raw, public):
    assert without_paths(raw) == public
