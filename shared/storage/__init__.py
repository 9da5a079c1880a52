"""Object storage: one interface (`Storage`), a local-disk and an S3 backend.

    storage = open_storage(settings)          # picks the backend from settings.storage_url
    storage.put_stream(key, fileobj)          # -> bytes stored
    storage.download_url(key, "clip.mp4")     # -> time-limited attachment link
"""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .base import (
    InvalidKey,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    TooLarge,
    content_disposition,
    validate_key,
)
from .local import LinkError, LocalStorage

__all__ = [
    "InvalidKey",
    "LinkError",
    "LocalStorage",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StoredObject",
    "TooLarge",
    "content_disposition",
    "open_storage",
    "validate_key",
]


def open_storage(settings) -> Storage:
    """The backend named by `settings.storage_url` (`file:///abs/path` or `s3://...`)."""
    url = settings.storage_url
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "file":
        path = unquote(parts.path)
        # file://var/objects would silently mean the host "var" and the path /objects.
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"file storage URL needs an absolute path (file:///abs/path): {url!r}")
        return LocalStorage(
            path, settings.secret_key, settings.public_url, default_ttl=settings.link_ttl_seconds
        )
    if scheme == "s3":
        from .s3 import S3Storage  # minio is only imported where S3 is used

        return S3Storage.from_url(url, default_ttl=settings.link_ttl_seconds)
    raise ValueError(f"unsupported storage URL scheme {scheme!r} (use file:// or s3://)")
