"""The storage interface shared by both backends, its errors and its key rules.

Keys are `/`-separated relative paths such as `{owner_id}/{project_id}/{asset_key}`;
both backends accept exactly the same keys, so code never depends on which one runs.
"""
from __future__ import annotations

import abc
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import quote

CHUNK_SIZE = 256 * 1024
MAX_KEY_LENGTH = 500  # the width of the `storage_key` columns


class StorageError(Exception):
    """Base of every storage failure; `reason` is a message fit for an API client."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidKey(StorageError, ValueError):
    """The key could escape the store (`..`, absolute, NUL) or is malformed."""


class ObjectNotFound(StorageError, KeyError):
    """No object is stored under the key."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.reason


class TooLarge(StorageError):
    """A stream ran past the `limit` given to `put_stream`; nothing was stored."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a safe object key, else raise InvalidKey."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"object key longer than {MAX_KEY_LENGTH} characters")
    if _CONTROL.search(key):
        raise InvalidKey("object key contains a control character")
    if key.startswith("/") or "\\" in key:
        raise InvalidKey("object key must be a relative path with '/' separators")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKey("object key has an empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str) -> str:
    """A folder prefix: `a/b` or `a/b/` both mean everything under `a/b/`."""
    return validate_key(prefix.rstrip("/")) + "/"


def content_disposition(filename: str | None) -> str:
    """`attachment; filename="..."` with an RFC 6266 `filename*` for non-ASCII names."""
    if not filename:
        return "attachment"
    # Quotes, backslashes and control characters would break out of the header value.
    name = _CONTROL.sub("", filename.replace("/", "_").replace("\\", "_")).replace('"', "'")
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


@dataclass(frozen=True)
class StoredObject:
    """One entry of `Storage.list_objects`."""

    key: str
    size: int
    modified: float  # POSIX time of its last write


class LimitedReader:
    """Wraps a readable stream, counts bytes and raises TooLarge past `limit`."""

    def __init__(self, stream: BinaryIO, limit: int | None = None):
        self._stream = stream
        self._limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        if self._limit is not None and self.count > self._limit:
            raise TooLarge(f"upload is larger than the limit of {self._limit} bytes")
        return data


class Storage(abc.ABC):
    """One object store. Every method takes a key validated by `validate_key`."""

    #: "file" or "s3"; lets callers tell whether `download_url` points back at the API.
    scheme: str = ""

    @abc.abstractmethod
    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        content_type: str | None = None,
        length: int | None = None,
        limit: int | None = None,
    ) -> int:
        """Store everything `stream.read()` yields (length may be unknown) and return
        the byte count. Raises TooLarge, storing nothing, once more than `limit` bytes
        arrive. The object appears whole or not at all."""

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> int:
        """Store a local file; returns its size."""
        path = Path(path)
        with path.open("rb") as fh:
            return self.put_stream(key, fh, content_type, length=path.stat().st_size)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> int:
        """Store a small in-memory object (thumbnails, manifests)."""
        return self.put_stream(key, io.BytesIO(data), content_type, length=len(data))

    def download_to(self, key: str, path: str | Path) -> int:
        """Copy the object into a local file (created or replaced); returns its size."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as out:
                for chunk in self.iter_range(key):
                    out.write(chunk)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path.stat().st_size

    def read_bytes(self, key: str) -> bytes:
        """The whole object in memory: only for small objects."""
        return b"".join(self.iter_range(key))

    @abc.abstractmethod
    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes `[start, end)` of the object (to its end when `end` is None)
        in chunks. Raises ObjectNotFound before yielding anything."""

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes; raises ObjectNotFound."""

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    @abc.abstractmethod
    def content_type(self, key: str) -> str:
        """The stored (or guessed) media type of the object; raises ObjectNotFound."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under the folder `prefix/`; returns how many."""

    @abc.abstractmethod
    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object under the folder `prefix/` (the whole store when empty), in no order;
        on local disk, unfinished writes too."""

    @abc.abstractmethod
    def download_url(self, key: str, filename: str | None = None, ttl: int | None = None) -> str:
        """A link valid for `ttl` seconds that downloads the object as an attachment
        named `filename`. It does not check that the object exists."""

    @abc.abstractmethod
    def upload_url(self, key: str, ttl: int | None = None) -> dict:
        """Where a client uploads the object itself (`direct` uploads):
        `{"url": ..., "method": "PUT", "fields": {}, "headers": {}, "expires_in": ttl}`;
        send the raw bytes as the request body with `headers`."""

    def close(self) -> None:
        """Release connections; the default has none."""
