"""One suite, both backends: what every caller of `shared.storage` relies on."""
from __future__ import annotations

import hashlib
import io
import os
import time

import pytest
import requests

from shared.storage import InvalidKey, ObjectNotFound, TooLarge, content_disposition

MiB = 1024**2


class Trickle:
    """A non-seekable stream of unknown length that returns short, uneven reads."""

    def __init__(self, data: bytes):
        self._data, self._pos, self._step = data, 0, 0

    def read(self, size: int = -1) -> bytes:
        self._step = self._step % 7 + 1
        size = len(self._data) if size < 0 else size
        chunk = self._data[self._pos : self._pos + min(size, 70_001 * self._step)]
        self._pos += len(chunk)
        return chunk


def test_round_trip_keeps_bytes_and_type(storage, ns):
    data = os.urandom(300_000)
    key = f"{ns}/clip.mp4"
    assert storage.put_stream(key, io.BytesIO(data), content_type="video/mp4") == len(data)
    assert storage.read_bytes(key) == data
    assert storage.size(key) == len(data)
    assert storage.exists(key)
    assert storage.content_type(key) == "video/mp4"


def test_unknown_length_stream_is_stored_in_parts(storage, ns, tmp_path):
    data = os.urandom(11 * MiB)
    key = f"{ns}/big.bin"
    assert storage.put_stream(key, Trickle(data)) == len(data)
    if storage.scheme == "s3":
        # A multipart object's ETag ends in "-<parts>": 5 + 5 + 1 MiB.
        etag = storage.client.stat_object(storage.bucket, key).etag
        assert etag.endswith("-3")
    out = tmp_path / "copy.bin"
    assert storage.download_to(key, out) == len(data)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


@pytest.mark.parametrize("size", [100_000, 7 * MiB])  # single request / aborted multipart
def test_stream_over_limit_stores_nothing(storage, ns, size):
    key = f"{ns}/too-big.bin"
    with pytest.raises(TooLarge):
        storage.put_stream(key, Trickle(os.urandom(size)), limit=size - 1)
    assert not storage.exists(key)


def test_put_file_and_overwrite(storage, ns, tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"first version")
    key = f"{ns}/file.bin"
    assert storage.put_file(key, source) == 13
    storage.put_bytes(key, b"second")
    assert storage.read_bytes(key) == b"second"


def test_range_reads(storage, ns):
    data = bytes(range(256)) * 2000
    key = f"{ns}/ranges.bin"
    storage.put_bytes(key, data)
    assert b"".join(storage.iter_range(key, 10, 20)) == data[10:20]
    assert b"".join(storage.iter_range(key, 500_000)) == data[500_000:]
    assert b"".join(storage.iter_range(key, len(data) - 1, len(data))) == data[-1:]
    assert b"".join(storage.iter_range(key, 7, 7)) == b""


def test_missing_object(storage, ns):
    key = f"{ns}/nothing-here"
    assert not storage.exists(key)
    with pytest.raises(ObjectNotFound):
        storage.size(key)
    with pytest.raises(ObjectNotFound):
        storage.iter_range(key)  # raised at the call, before any iteration
    storage.delete(key)  # deleting what is gone is fine


def test_delete_and_delete_prefix(storage, ns):
    for name in ("a/b/1", "a/b/c/2", "a/bc/3", "a/4"):
        storage.put_bytes(f"{ns}/{name}", name.encode())
    storage.delete(f"{ns}/a/4")
    assert not storage.exists(f"{ns}/a/4")
    # A folder prefix: `a/b` must not take `a/bc` with it.
    assert storage.delete_prefix(f"{ns}/a/b") == 2
    assert not storage.exists(f"{ns}/a/b/1")
    assert not storage.exists(f"{ns}/a/b/c/2")
    assert storage.read_bytes(f"{ns}/a/bc/3") == b"a/bc/3"
    assert storage.delete_prefix(f"{ns}/nothing") == 0


def test_list_objects_under_a_folder(storage, ns):
    before = time.time()
    for name in ("a/b/1", "a/b/c/22", "a/bc/333"):
        storage.put_bytes(f"{ns}/{name}", name.encode())
    listed = {o.key: o for o in storage.list_objects(f"{ns}/a/b")}
    assert {key: o.size for key, o in listed.items()} == {f"{ns}/a/b/1": 5, f"{ns}/a/b/c/22": 8}
    assert all(before - 2 <= o.modified <= time.time() + 2 for o in listed.values())
    assert {f"{ns}/a/b/1", f"{ns}/a/bc/333"} <= {o.key for o in storage.list_objects()}
    assert list(storage.list_objects(f"{ns}/nothing")) == []


def test_download_url_serves_an_attachment_with_ranges(storage, ns):
    data = os.urandom(50_000)
    key = f"{ns}/render.mp4"
    storage.put_bytes(key, data, content_type="video/mp4")
    url = storage.download_url(key, "my render.mp4", ttl=60)

    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["Content-Disposition"] == 'attachment; filename="my render.mp4"'

    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"


def test_upload_url_takes_a_plain_put(storage, direct_slot):
    key = direct_slot("direct.mov")
    target = storage.upload_url(key, ttl=60)
    assert target["method"] == "PUT" and target["expires_in"] == 60
    payload = os.urandom(70_000)
    answer = requests.put(target["url"], data=payload, headers=target["headers"], timeout=10)
    assert answer.status_code == 200, answer.text
    assert storage.read_bytes(key) == payload


BAD_KEYS = ["", "/etc/passwd", "a/../../b", "..", "a//b", "a/./b", "a/b/", "a\x00b", "a\\b", "x" * 501]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused(storage, key):
    for call in (
        lambda: storage.put_bytes(key, b"x"),
        lambda: storage.size(key),
        lambda: storage.delete(key),
        lambda: storage.download_url(key, "x.mp4"),
        lambda: storage.upload_url(key),
    ):
        with pytest.raises(InvalidKey):
            call()


def test_content_disposition_quotes_names_safely():
    assert content_disposition("a.mp4") == 'attachment; filename="a.mp4"'
    assert content_disposition('x"; evil=1\r\n.mp4') == "attachment; filename=\"x'; evil=1.mp4\""
    assert content_disposition("été.mp4") == (
        "attachment; filename=\"_t_.mp4\"; filename*=UTF-8''%C3%A9t%C3%A9.mp4"
    )
