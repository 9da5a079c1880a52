"""The streaming multipart reader gives exactly the file's bytes, however the body is cut."""
from __future__ import annotations

import io
import os

import pytest
from werkzeug.exceptions import BadRequest

from api.multipart import MultipartFileReader

BOUNDARY = b"----canopy-test-boundary"


def body(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, data, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
        if filename:
            out += b"Content-Type: video/mp4\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, as a slow socket does."""

    def __init__(self, data: bytes, step: int):
        self.data, self.pos, self.step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.pos:self.pos + size]
        self.pos += len(chunk)
        return chunk


@pytest.mark.parametrize("step", [1, 7, 4096, 10**7])
def test_file_bytes_come_out_whole(step):
    payload = os.urandom(300_000) + b"\r\n--" + BOUNDARY[:-3]  # boundary-like bytes inside
    raw = body(("name", b"clip", None), ("file", payload, "clip.mp4"), ("after", b"x", None))
    reader = MultipartFileReader(Trickle(raw, step), BOUNDARY, read_size=max(step, 1024))
    part = reader.open()
    assert part.filename == "clip.mp4" and part.headers["content-type"] == "video/mp4"
    received = b"".join(iter(lambda: reader.read(65536), b""))
    reader.finish()
    assert received == payload


def test_no_file_field_is_none():
    reader = MultipartFileReader(io.BytesIO(body(("name", b"x", None))), BOUNDARY)
    assert reader.open() is None


def test_truncated_body_is_a_bad_request():
    raw = body(("file", os.urandom(50_000), "clip.mp4"))[:30_000]
    reader = MultipartFileReader(io.BytesIO(raw), BOUNDARY)
    reader.open()
    with pytest.raises(BadRequest):
        while reader.read(8192):
            pass
