"""What can stop a render, each a type the worker can map to a message the user can act on."""
from __future__ import annotations

from typing import Optional


class RenderError(Exception):
    """A render failed; `clip_index` names the clip of the sequence where it applies."""

    def __init__(self, message: str, *, clip_index: Optional[int] = None,
                 source_id: Optional[str] = None):
        self.clip_index = clip_index
        self.source_id = source_id
        where = f"clip {clip_index}: " if clip_index is not None else ""
        super().__init__(where + message)


class MissingSourceError(RenderError):
    """An id of the edit has no local source file."""


class SourceDecodeError(RenderError):
    """A source could not be opened, or failed to decode part of the way through."""


class InvalidEditError(RenderError):
    """The edit does not fit its sources; `errors` are FastAPI-style dicts."""

    def __init__(self, message: str, errors: list[dict]):
        self.errors = errors
        super().__init__(message)


class OutputNotWritableError(RenderError):
    """The output file cannot be created where it was asked for."""


class GpuUnavailableError(RenderError):
    """The GPU encoder was asked for and this machine cannot open it."""


class RenderCanceled(Exception):
    """`should_cancel()` said stop; the partial output has been removed. Not a failure."""
