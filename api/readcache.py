"""Presented answers kept per process and reused while the row's version is unchanged.

Status polling is most of an API's traffic while renders run. Each poll still asks the
database for the row's version (one indexed read), so an answer is never older than the
database; only the row's loading, presenting and serializing are saved. Entries also expire
after MAX_AGE_SECONDS, so the signed links in them stay fresh.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Hashable, TypeVar

from flask import Response, current_app

MAX_AGE_SECONDS = 60.0
MAX_ENTRIES = 10_000

T = TypeVar("T")


class Answer:
    """A presented answer and its JSON body, serialized once per version rather than per poll."""

    __slots__ = ("data", "body")

    def __init__(self, data: dict):
        self.data = data
        self.body = current_app.json.response(data).get_data()  # as Flask would answer `data`

    def response(self) -> Response:
        return current_app.response_class(self.body, mimetype=current_app.json.mimetype)


class VersionedCache:
    def __init__(self):
        self._entries: dict[Hashable, tuple[Hashable, float, object]] = {}
        self._lock = threading.Lock()

    def get_or_build(self, key: Hashable, version: Hashable,
                     build: Callable[[], tuple[T, Hashable]]) -> T:
        """The entry for `key` if it was built at `version`, else `build()`'s new one.

        `build` returns the value and the version of the rows it read: the entry is filed
        under that, so a value read from an older snapshot than `version` (a transaction
        begun earlier in the request, under repeatable read) is never reused for `version`.
        """
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] == version and entry[1] > now:
            return entry[2]
        value, built_at = build()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (built_at, now + MAX_AGE_SECONDS, value)
        return value


assets = VersionedCache()
