"""The event streams of one API process, off their request threads: one thread with a
selector owns every handed-off stream's socket (`api/streamworker.py` hands them over once
their headers and first event are sent).

The loop writes what the hub offers each stream's listener (the newest state only: a stream
whose client reads slowly skips states, never queues them), a comment line on a stream idle
for `keepalive` seconds, and the end of the stream. It drops a stream whose client hung up
(its socket reads as closed, or a write fails) or read nothing for `2 * keepalive` seconds
while a write waited: each frees its slot at once. Database reads stay on the hub's thread,
so nothing here waits on anything but sockets.
"""
from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque

from .streams import KEEPALIVE, Stream

log = logging.getLogger(__name__)

_making = threading.Lock()


def loop_of(hub) -> "StreamLoop":
    """The stream loop of `hub`'s process, made on first use."""
    with _making:
        if hub.stream_loop is None:
            hub.stream_loop = StreamLoop(hub.keepalive)
        return hub.stream_loop


class _Conn:
    """One handed-off stream: its socket, HTTP framing and bytes not yet written."""

    def __init__(self, loop: "StreamLoop", sock: socket.socket, stream: Stream, chunked: bool):
        self.loop, self.sock, self.stream, self.chunked = loop, sock, stream, chunked
        self.out = bytearray()
        self.written = time.monotonic()
        self.waiting_since: float | None = None  # the client has not taken bytes since then
        self.ending = self.gone = False

    def send(self, data: bytes, framed: bool = False) -> None:
        if self.chunked and data and not framed:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.out += data
        self.flush()

    def pull(self) -> None:
        """Write what the listener holds, once the earlier bytes are out."""
        if self.gone or self.out or self.ending:
            return
        chunk = self.stream.render(self.stream.listener.take(0))
        if chunk:
            self.send(chunk)
        if self.stream.done and not self.ending and not self.gone:
            self.ending = True
            self.send(b"0\r\n\r\n" if self.chunked else b"", framed=True)  # the last chunk

    def flush(self) -> None:
        try:
            while self.out:
                self.out = self.out[self.sock.send(self.out):]
        except BlockingIOError:
            pass
        except OSError:
            return self.drop()
        now = time.monotonic()
        if self.out:
            self.waiting_since = self.waiting_since or now
        else:
            self.written, self.waiting_since = now, None
            if self.ending:
                return self.drop()
        self.loop.listen(self, writing=bool(self.out))
        if not self.out:
            self.pull()

    def serve(self, events: int) -> None:
        if events & selectors.EVENT_READ:
            self.readable()
        if events & selectors.EVENT_WRITE and not self.gone:
            self.flush()

    def readable(self) -> None:
        try:
            if self.sock.recv(4096):
                return  # a client has nothing to say on a stream: ignored
        except BlockingIOError:
            return
        except OSError:
            pass
        self.drop()  # the client hung up

    def tick(self, now: float, keepalive: float) -> None:
        if self.waiting_since is not None and now - self.waiting_since >= 2 * keepalive:
            self.drop()  # a client that reads nothing
        elif not self.out and now - self.written >= keepalive:
            self.send(KEEPALIVE)

    def drop(self) -> None:
        if self.gone:
            return
        self.gone = True
        self.loop.forget(self)
        try:
            self.sock.close()
        finally:
            self.stream.close()


def _guarded(conn: _Conn, action) -> None:
    """`action(conn)`; a stream it breaks is dropped, never the loop and the other streams."""
    try:
        action(conn)
    except Exception:
        log.exception("event stream of asset %s failed; dropped", conn.stream.listener.asset_id)
        conn.drop()


class StreamLoop:
    """The selector thread of this process's handed-off streams (started on first use)."""

    def __init__(self, keepalive: float):
        self.keepalive = keepalive
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._incoming: deque[_Conn] = deque()
        self._ready: deque[_Conn] = deque()
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def adopt(self, sock: socket.socket, stream: Stream, chunked: bool) -> None:
        """Own `sock` from now on: its headers and `stream.opening()` are written."""
        conn = _Conn(self, sock, stream, chunked)
        stream.adopted = True
        stream.listener.wake = lambda: self._poke(conn)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-streams",
                                                daemon=True)
                self._thread.start()
        self._incoming.append(conn)
        self._wake()

    def listen(self, conn: _Conn, writing: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
        try:
            self._selector.modify(conn.sock, events, conn)
        except KeyError:
            self._selector.register(conn.sock, events, conn)

    def forget(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass

    def _poke(self, conn: _Conn) -> None:
        self._ready.append(conn)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):  # a wake-up is pending already
            pass

    def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            for key, events in self._selector.select(max(0.0, next_tick - time.monotonic())):
                if key.data is None:
                    self._drain_wake()
                else:
                    _guarded(key.data, lambda conn, events=events: conn.serve(events))
            self._take_new()
            while self._ready:
                _guarded(self._ready.popleft(), _Conn.pull)
            now = time.monotonic()
            if now >= next_tick:
                for conn in list(self._conns):
                    _guarded(conn, lambda conn: conn.tick(now, self.keepalive))
                next_tick = now + min(1.0, self.keepalive / 4)

    def _take_new(self) -> None:
        while self._incoming:
            conn = self._incoming.popleft()
            try:
                conn.sock.setblocking(False)
            except OSError:
                conn.drop()
                continue
            self._conns.add(conn)
            self.listen(conn, writing=False)
            _guarded(conn, _Conn.pull)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    @property
    def streams(self) -> int:
        return len(self._conns)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the loop holds no stream (True), or `timeout` seconds (False)."""
        deadline = time.monotonic() + timeout
        while self._conns or self._incoming:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True
