"""A local cache of source media, keyed by content hash, shared by the renders of one machine.

A download is hashed before it joins the cache: a stored object that no longer holds what
its probe hashed (rewritten through a still-valid direct-upload link, say) is refused, so
a render never uses unanalysed bytes and never files them under another file's hash.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shared.digests import file_sha256


class SourceChanged(Exception):
    """The stored object's bytes are not the ones its probe hashed."""


class SourceCache:
    def __init__(self, storage, root: str):
        self.storage = storage
        self.root = Path(root) / "sources"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str, sha256: str | None) -> str:
        """A local copy of the object `key`; downloaded once per content hash."""
        suffix = Path(key).suffix[:10]
        name = f"{sha256}{suffix}" if sha256 else key.replace("/", "_")
        target = self.root / name
        if target.exists():
            os.utime(target)  # recently used: a cleaner evicting by age keeps it
            return str(target)
        fd, partial = tempfile.mkstemp(dir=self.root, prefix=".partial-")
        os.close(fd)
        try:
            self.storage.download_to(key, partial)
            if sha256:
                if file_sha256(partial) != sha256:
                    raise SourceChanged("its stored file changed after it was analysed")
            os.replace(partial, target)  # atomic: concurrent renders never see half a file
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return str(target)
