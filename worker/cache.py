"""A local cache of source media, keyed by content hash, shared by the renders of one machine."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
            os.replace(partial, target)  # atomic: concurrent renders never see half a file
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return str(target)
