"""open_storage: the backend named by CANOPY_STORAGE_URL."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from shared.config import Settings
from shared.storage import LocalStorage, open_storage
from shared.storage.s3 import S3Storage


def test_file_url_opens_the_local_store(tmp_path):
    store = open_storage(replace(Settings(), storage_url=f"file://{tmp_path}/objects"))
    assert isinstance(store, LocalStorage) and store.root == tmp_path / "objects"
    assert store.root.is_dir()


@pytest.mark.parametrize("url", ["file://relative/objects", "ftp://host/bucket", "objects"])
def test_unusable_urls(url):
    with pytest.raises(ValueError):
        open_storage(replace(Settings(), storage_url=url))


def test_s3_url_creates_its_bucket_and_signs_for_the_public_endpoint(s3_server):
    url = s3_server.replace("/canopy-test?", "/fresh-bucket?") + "&public=https://media.example.org"
    store = open_storage(replace(Settings(), storage_url=url))
    assert isinstance(store, S3Storage)
    assert store.client.bucket_exists("fresh-bucket")
    link = urlsplit(store.download_url("a/b.mp4", "b.mp4", ttl=60))
    assert (link.scheme, link.netloc, link.path) == ("https", "media.example.org", "/fresh-bucket/a/b.mp4")
    assert "X-Amz-Expires=60" in link.query
    open_storage(replace(Settings(), storage_url=url))  # a second process: the bucket exists
