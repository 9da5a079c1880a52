"""The workers' source cache: one download per content hash, and only the analysed bytes."""
from __future__ import annotations

import hashlib

import pytest

from worker.cache import SourceCache, SourceChanged


def test_a_source_is_downloaded_once_per_hash(storage, ns, tmp_path):
    data = b"analysed bytes" * 1000
    storage.put_bytes(f"{ns}/a/clip.mp4", data)
    cache = SourceCache(storage, str(tmp_path))
    digest = hashlib.sha256(data).hexdigest()

    first = cache.path(f"{ns}/a/clip.mp4", digest)
    storage.delete(f"{ns}/a/clip.mp4")  # a second call must not need the store
    assert cache.path(f"{ns}/a/clip.mp4", digest) == first
    with open(first, "rb") as fh:
        assert fh.read() == data
    assert first.endswith(f"{digest}.mp4")


def test_bytes_rewritten_after_the_probe_are_refused(storage, ns, tmp_path):
    """As a direct-upload link used again after analysis would leave the object."""
    analysed = b"what the probe hashed" * 1000
    storage.put_bytes(f"{ns}/b/clip.mp4", b"something else entirely" * 1000)
    cache = SourceCache(storage, str(tmp_path))

    with pytest.raises(SourceChanged, match="changed after it was analysed"):
        cache.path(f"{ns}/b/clip.mp4", hashlib.sha256(analysed).hexdigest())
    assert list((tmp_path / "sources").iterdir()) == []  # nothing kept under the hash
