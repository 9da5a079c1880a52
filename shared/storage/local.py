"""Objects on local disk, with download/upload links served by the API (`/files/<key>`).

Links carry `expires` and an HMAC-SHA256 `signature` over the method, key, expiry and
download file name, so a link can be neither stretched, renamed nor turned into a PUT.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping
from urllib.parse import quote, quote_plus

from .base import (
    CHUNK_SIZE,
    InvalidKey,
    LimitedReader,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    validate_key,
    validate_prefix,
)

# A link's expiry as _link writes it: ASCII digits only (str.isdigit takes "²", which int()
# refuses, and int() takes other scripts' digits), and never more than a timestamp needs.
_EXPIRES = re.compile(r"[0-9]{1,12}")


class LinkError(StorageError):
    """A `/files/` link whose signature is wrong or whose time is up."""


class LocalStorage(Storage):
    scheme = "file"

    def __init__(
        self,
        root: str | Path,
        secret_key: str,
        public_url: str,
        default_ttl: int = 3600,
        clock: Callable[[], float] = time.time,
    ):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_url = public_url.rstrip("/")
        self.default_ttl = default_ttl
        self.clock = clock
        # A key derived for links only, so a leaked link signature says nothing about
        # other uses of the secret (sessions, API keys).
        self._link_key = hmac.new(secret_key.encode(), b"canopy.storage.links", "sha256").digest()

    # -- paths -------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        """The file that holds `key`; never outside the root, even through symlinks."""
        path = self.root / validate_key(key)
        real = os.path.realpath(path)
        if not real.startswith(str(self.root) + os.sep):
            raise InvalidKey("object key resolves outside the store")
        return path

    def _existing(self, key: str) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise ObjectNotFound(f"no stored object {key!r}")
        return path

    # -- objects -----------------------------------------------------------------------
    def put_stream(self, key, stream: BinaryIO, content_type=None, length=None, limit=None) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        reader = LimitedReader(stream, limit)
        # Write beside the target and rename: readers never see a half-written object.
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK_SIZE):
                    out.write(chunk)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return reader.count

    def put_file(self, key, path, content_type=None) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(path, partial)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def iter_range(self, key, start=0, end=None) -> Iterator[bytes]:
        fh = self._existing(key).open("rb")  # opened now: ObjectNotFound before any byte
        return self._chunks(fh, start, end)

    @staticmethod
    def _chunks(fh: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with fh:
            fh.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                chunk = fh.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def size(self, key) -> int:
        return self._existing(key).stat().st_size

    def content_type(self, key) -> str:
        self._existing(key)
        return mimetypes.guess_type(key)[0] or "application/octet-stream"

    def delete(self, key) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix) -> int:
        folder = self.root / validate_prefix(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".part"))
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def list_objects(self, prefix="") -> Iterator[StoredObject]:
        folder = self.root / validate_prefix(prefix) if prefix else self.root
        for parent, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(parent, name)
                try:
                    stat = path.stat()
                except FileNotFoundError:  # deleted while we walked
                    continue
                yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size,
                                   stat.st_mtime)

    # -- links -------------------------------------------------------------------------
    def _signature(self, method: str, key: str, expires: int, filename: str) -> str:
        message = "\n".join((method, key, str(expires), filename)).encode()
        digest = hmac.new(self._link_key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _link(self, method: str, key: str, filename: str | None, ttl: int | None) -> str:
        validate_key(key)
        expires = int(self.clock()) + (self.default_ttl if ttl is None else ttl)
        signature = self._signature(method, key, expires, filename or "")
        # What urlencode gives for these arguments (the digits and the base64url signature
        # need no quoting), at a fifth of its cost: an answer may sign 10,000 links.
        named = f"&filename={quote_plus(filename)}" if filename else ""
        return f"{self.public_url}/files/{quote(key)}?expires={expires}{named}&signature={signature}"

    def download_url(self, key, filename=None, ttl=None) -> str:
        return self._link("GET", key, filename, ttl)

    def upload_url(self, key, ttl=None) -> dict:
        ttl = self.default_ttl if ttl is None else ttl
        return {
            "url": self._link("PUT", key, None, ttl),
            "method": "PUT",
            "fields": {},
            "headers": {},
            "expires_in": ttl,
        }

    def verify_link(self, key: str, args: Mapping[str, str], method: str = "GET") -> str | None:
        """Check a `/files/` link's query arguments for `method` (GET or PUT, a HEAD
        counts as GET); return its download file name, or raise LinkError."""
        validate_key(key)
        method = "GET" if method == "HEAD" else method
        expires, signature = args.get("expires", ""), args.get("signature", "")
        filename = args.get("filename") or ""
        if not _EXPIRES.fullmatch(expires) or not signature:
            raise LinkError("link is missing its signature or expiry")
        expected = self._signature(method, key, int(expires), filename)
        # compare_digest takes ASCII strings only: bytes, so any signature is just wrong.
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinkError("link signature is invalid")
        if int(expires) < self.clock():
            raise LinkError("link has expired")
        return filename or None
