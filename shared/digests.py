"""Content hashes: a file's (the farm records a source's at analysis and checks it again before
a render reads it) and a value's, as canonical JSON (the render cache's keys)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """The file's sha256, in lowercase hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def canonical_sha256(value) -> str:
    """The sha256 of `value` as canonical JSON: keys sorted, no spaces, ASCII only; what JSON
    cannot hold is written as its str()."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                           default=str)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
