"""Read one file field of a multipart body as it arrives, for streaming it into storage.

werkzeug's `request.files` spools a file to a temporary file before the view runs, so a
big upload is written twice and costs twice the CPU. `MultipartFileReader` drives werkzeug's
own sans-IO decoder over `request.stream` instead: the bytes go straight to `put_stream`.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.errors import Unprocessable
from werkzeug.exceptions import BadRequest
from werkzeug.sansio.multipart import NEED_DATA, Epilogue, File, MultipartDecoder


class MultipartFileReader:
    """`read()` over the bytes of one multipart file field of `stream`.

    Parts before the field are skipped (their bytes are bounded); `finish()` drains the rest.
    """

    def __init__(self, stream, boundary: bytes, field: str = "file", read_size: int = 256 * 1024):
        self.stream, self.field, self.read_size = stream, field, read_size
        # The decoder refuses to buffer more than this (only fields' bytes ever pile up).
        self.decoder = MultipartDecoder(boundary, max_form_memory_size=4 * read_size + 64 * 1024)
        self.buf = bytearray()
        self.done = False

    def _event(self):
        while True:
            try:
                event = self.decoder.next_event()
            except ValueError:  # malformed, or the body ended early (a client gone)
                raise BadRequest("the multipart body is malformed or incomplete") from None
            if event is not NEED_DATA:
                return event
            # Under gunicorn request.stream is the raw body: b"" at its end, also when the
            # client disconnected early; the decoder then reports the missing rest.
            chunk = self.stream.read(self.read_size)
            self.decoder.receive_data(chunk or None)

    def open(self) -> File | None:
        """Advance to the file field; its `File` event (filename, headers) or None."""
        while True:
            event = self._event()
            if isinstance(event, File) and event.name == self.field:
                return event
            if isinstance(event, Epilogue):
                return None

    def read(self, size: int = -1) -> bytes:
        while not self.done and (size < 0 or len(self.buf) < size):
            event = self._event()
            self.buf += event.data
            self.done = not event.more_data
        size = len(self.buf) if size < 0 else min(size, len(self.buf))
        with memoryview(self.buf) as view:  # one copy, not two (slice + bytes)
            out = bytes(view[:size])
        del self.buf[:size]
        return out

    def finish(self) -> None:
        while not isinstance(self._event(), Epilogue):
            pass


@dataclass(frozen=True)
class FileUpload:
    """A request's multipart `file` field, not read yet: the service opens it after its checks."""

    mimetype: str
    boundary: str
    stream: object

    @classmethod
    def of(cls, request) -> "FileUpload":
        return cls(request.mimetype, request.mimetype_params.get("boundary", ""), request.stream)

    def open(self) -> tuple[MultipartFileReader, File]:
        """A reader positioned at the file's bytes, and its part (422 when there is none)."""
        if self.mimetype == "multipart/form-data" and self.boundary:
            reader = MultipartFileReader(self.stream, self.boundary.encode())
            part = reader.open()  # reads up to the file's part headers only
            if part is not None:
                return reader, part
        raise Unprocessable.field(("body", "file"), "a multipart field 'file' is required")
