"""Names users give us, made safe to store and to put in a Content-Disposition header."""
from __future__ import annotations

import os
import re

# A file name on disk is at most 255 bytes (ext4, XFS, APFS...): a name of 200 characters
# may be 800 bytes of UTF-8. Keep well under, leaving room for the store's own suffixes.
MAX_NAME_BYTES = 150


def clean_filename(raw: str | None, default: str = "upload", limit: int = 200,
                   max_bytes: int = MAX_NAME_BYTES) -> str:
    """The last path component of `raw`, without control characters or leading dots, at most
    `limit` characters and `max_bytes` bytes of UTF-8 (cut on a character, extension kept)."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        return default
    stem, ext = os.path.splitext(name)
    ext = _cut(ext, limit // 2, max_bytes // 2)  # an absurd "extension" leaves room for a stem
    return _cut(stem, limit - len(ext), max_bytes - len(ext.encode())) + ext


def _cut(text: str, chars: int, max_bytes: int) -> str:
    """The longest prefix of `text` within `chars` characters and `max_bytes` UTF-8 bytes."""
    return text[:chars].encode()[:max_bytes].decode(errors="ignore")


# An absolute path in quotes (as OSError and FFmpeg print them; spaces allowed), or else a
# '/' that starts a word (not one inside a URL, "http://h/p", or a relative path), then
# folders, then the last component, which is kept.
_QUOTED_PATH = re.compile(r"(['\"])/(?:[^'\"\n]*/)?([^'\"/\n]*)\1")
_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^/\s'\"]+/)+([^/\s'\"]*)")


def without_paths(text: str) -> str:
    """`text` with every absolute path cut to its last component: a reason shown to clients
    never tells where the server keeps its files ('/var/cache/renders/tmp1/out.mp4' → 'out.mp4')."""
    text = _QUOTED_PATH.sub(lambda match: f"{match[1]}{match[2]}{match[1]}", text)
    return _PATH.sub(lambda match: match[1] or "/", text)
