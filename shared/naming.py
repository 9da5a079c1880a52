"""Names users give us, made safe to store and to put in a Content-Disposition header."""
from __future__ import annotations

import os


def clean_filename(raw: str | None, default: str = "upload", limit: int = 200) -> str:
    """The last path component of `raw`, without control characters or leading dots."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        return default
    stem, ext = os.path.splitext(name)
    return stem[: max(1, limit - len(ext))] + ext[:limit]
