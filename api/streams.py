"""One event stream of `GET /assets/{id}/events`: the Server-Sent Events bytes of what the hub
(`api/events.py`) hands its listener.

Under gunicorn's `api.streamworker.StreamWorker` (gunicorn.conf.py) a stream leaves its
request thread once its headers and first event are sent: the process's `StreamLoop`
(`api/streamloop.py`) owns the socket from then on, so an idle stream costs a socket and a
few objects, not a thread. Under any other server (the tests' in-process client, TLS or
HTTP/2 in gunicorn itself) the request thread iterates the stream, as many as the hub's
`max_threaded` allows.

Either way a stream sends a comment line after `keepalive` seconds without a write, however
often the hub re-reads its asset: proxies keep the stream, and a client that went away is
found (its write fails) and its slot freed.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Iterator

from .events import CLOSED, GONE, Hub, Listener, Snapshot, snapshot
from .services.assets import owned_asset

RETRY_MS = 2000  # how long EventSource waits before it reconnects
KEEPALIVE = b": keep-alive\n\n"
# environ keys: set by StreamWorker when it can take this request's stream off its thread,
# and by the view for the stream it opened.
HANDOFF = "canopy.stream_handoff"
STREAM = "canopy.stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def parse_last_event_id(value: str | None) -> int | None:
    """A revision this server sent as an event id; anything else is ignored (None)."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


class Stream:
    """What one stream has sent, and the bytes of what comes next."""

    def __init__(self, hub: Hub, listener: Listener, first: Snapshot, sent: int | None):
        self.hub, self.listener = hub, listener
        self.first, self.sent, self.status = first, sent, None
        self.done = False  # the last event is out: the stream ends
        self.adopted = False  # the loop owns it (and closes it)
        self._closed = threading.Event()

    def opening(self) -> bytes:
        return f"retry: {RETRY_MS}\n\n".encode() + self.render(self.first)

    def render(self, item: Snapshot | str | None) -> bytes:
        """The bytes `item` (a state, GONE, CLOSED, or None: nothing new) adds to the stream."""
        if item == CLOSED:
            self.done = True
        elif item == GONE:
            self.done = True
            return _event("deleted", {"id": self.listener.asset_id})
        elif isinstance(item, Snapshot) and (self.sent is None or item.revision > self.sent):
            kind = "status" if item.state["status"] != self.status else "progress"
            self.sent, self.status = item.revision, item.state["status"]
            self.done = item.finished
            return _event(kind, item.state, item.revision)
        return b""

    def __iter__(self) -> Iterator[bytes]:
        """The stream served by the request's thread: a write at least every keep-alive."""
        yield self.opening()
        written = time.monotonic()
        while not self.done:
            wait = written + self.hub.keepalive - time.monotonic()
            chunk = self.render(self.listener.take(max(wait, 0.0)))
            if not chunk and time.monotonic() - written >= self.hub.keepalive:
                chunk = KEEPALIVE
            if chunk:
                yield chunk
                written = time.monotonic()

    def close(self) -> None:
        """Give its slot back (once)."""
        if not self._closed.is_set():
            self._closed.set()
            self.hub.unwatch(self.listener)

    def abandon(self) -> None:
        """The response is done with it: close it unless the loop took it."""
        if not self.adopted:
            self.close()


def open_stream(hub: Hub, user, asset_id, last_event_id: int | None,
                threaded: bool) -> Stream | None:
    """The caller's asset's event stream, or None when the client has seen its last event
    already (answer 204: EventSource stops reconnecting). Another owner's asset: NotFound;
    no slot left: TooManyStreams (503) or, the caller's own, TooManyOfYours (429)."""
    listener = hub.watch(str(asset_id), user.id, threaded)  # before the read: no change
    try:                                                    # can fall between them
        first = snapshot(owned_asset(user, asset_id))
    except BaseException:
        hub.unwatch(listener)
        raise
    hub.seen(listener.asset_id, first)
    if last_event_id is not None and last_event_id > first.revision:
        last_event_id = None  # not an id of this asset's: start afresh
    if first.finished and last_event_id == first.revision:
        hub.unwatch(listener)
        return None
    return Stream(hub, listener, first, last_event_id)


def _event(kind: str, data: dict, event_id: int | None = None) -> bytes:
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines += [f"event: {kind}", f"data: {json.dumps(data, separators=(',', ':'))}", "", ""]
    return "\n".join(lines).encode()
