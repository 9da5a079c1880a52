"""Live status events: `GET /assets/{id}/events` as Server-Sent Events.

Each API process subscribes once to the Redis channel on which every commit that changes an
asset or video file names it (`shared.events`). Its `Hub` thread reads each announced asset
that this process's streams watch, once for all of them and at most `READS_PER_SECOND`
times a second, and hands the state to each stream; a stream sends it when its revision is
newer than the last one it sent. After (re)subscribing and every `REFRESH_SECONDS` the hub
reads every watched asset again: a lost message delays an event, it never hangs a stream.

Each open stream holds one of its gunicorn process's threads while it waits (the `gthread`
worker, `gunicorn.conf.py`, which sets each hub's `max_streams` below its thread count), so
that normal requests always find a thread.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shared.db import Database
from shared.errors import CanopyError
from shared.events import CHANNEL
from shared.models import Asset
from shared.states import FINISHED as JOB_FINISHED, MediaState

from .auth import Caller
from .present import asset_state
from .services.assets import owned_asset

log = logging.getLogger(__name__)

# A stream ends after its asset reaches one of these: a render's end, or an upload's probe.
FINISHED = JOB_FINISHED | {MediaState.ANALYZED}
READS_PER_SECOND = 4  # per watched asset and process: the most events a stream gets a second
REFRESH_SECONDS = 10.0
KEEPALIVE_SECONDS = 15.0  # a comment line: proxies keep the stream, dead clients are found
RETRY_MS = 2000  # how long EventSource waits before it reconnects
MAX_STREAMS = 256  # per API process, unless gunicorn.conf.py sets it from its threads


class TooManyStreams(CanopyError):
    status = 503


@dataclass(frozen=True)
class Snapshot:
    """An asset's state as `/assets/{id}/status` answers it, and the revision it was read at."""

    revision: int
    state: dict
    video_file_id: str | None  # a video-reference asset's status is its library file's

    @property
    def finished(self) -> bool:
        return self.state["status"] in FINISHED


def snapshot(asset: Asset) -> Snapshot:
    linked = asset.video_file if asset.video_file_id else None
    # Each revision only grows, so their sum orders the states of a linked asset too.
    revision = asset.revision + (linked.revision if linked is not None else 0)
    return Snapshot(revision, asset_state(asset).model_dump(), asset.video_file_id)


def read_snapshots(db: Database, asset_ids: list[str]) -> dict[str, Snapshot]:
    """The committed state of these assets, in one query; a deleted asset is missing."""
    with db.sessionmaker() as session:
        rows = session.execute(select(Asset).options(joinedload(Asset.video_file))
                                .where(Asset.id.in_(asset_ids))).scalars()
        return {asset.id: snapshot(asset) for asset in rows}


GONE = "gone"  # the asset was deleted
CLOSED = "closed"  # the process is stopping: the client reconnects (to another one)


class Listener:
    """One stream's mailbox: the newest state the hub read for its asset, not yet taken."""

    def __init__(self, asset_id: str):
        self.asset_id = asset_id
        self._ready = threading.Condition()
        self._item: Snapshot | str | None = None
        self._closed = False

    def offer(self, item: Snapshot | str) -> None:
        with self._ready:
            older = (isinstance(item, Snapshot) and isinstance(self._item, Snapshot)
                     and item.revision <= self._item.revision)
            if not older:
                self._item = item
            self._closed |= item == CLOSED
            self._ready.notify()

    def take(self, timeout: float) -> Snapshot | str | None:
        """The newest state offered (GONE, CLOSED), or None after `timeout` seconds."""
        with self._ready:
            if self._item is None and not self._closed:
                self._ready.wait(timeout)
            if self._closed:
                return CLOSED
            item, self._item = self._item, None
            return item


class Hub:
    """One Redis subscription per process, fanned out to this process's streams."""

    def __init__(self, redis_url: str, db: Database):
        self.redis_url = redis_url
        self.db = db
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}
        self._links: dict[str, str] = {}  # watched asset id → the video file it follows
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.max_streams = MAX_STREAMS
        # Used by the hub's thread only: when each asset is to be read next, and was last.
        self._due: dict[str, float] = {}
        self._last_read: dict[str, float] = {}

    @property
    def streams(self) -> int:
        return sum(len(group) for group in self._listeners.values())

    def watch(self, asset_id: str) -> Listener:
        listener = Listener(asset_id)
        with self._lock:
            if self._stopping.is_set():
                raise TooManyStreams("the server is stopping; reconnect")
            if self.streams >= self.max_streams:
                raise TooManyStreams(f"this server holds {self.max_streams} event streams already; "
                                     "retry later or poll /assets/{id}/status")
            self._listeners.setdefault(asset_id, set()).add(listener)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self._thread.start()
        return listener

    def seen(self, asset_id: str, state: Snapshot) -> None:
        """A stream read its asset itself: follow the video file that it links, if any."""
        with self._lock:
            if asset_id in self._listeners and state.video_file_id:
                self._links[asset_id] = state.video_file_id

    def unwatch(self, listener: Listener) -> None:
        with self._lock:
            group = self._listeners.get(listener.asset_id)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[listener.asset_id]
                    self._links.pop(listener.asset_id, None)

    def close(self) -> None:
        """End every stream of this process (it is stopping); new ones are refused."""
        with self._lock:
            self._stopping.set()
            for group in self._listeners.values():
                for listener in group:
                    listener.offer(CLOSED)

    # The hub's thread.

    def _run(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=10,
                                      health_check_interval=30)
        pubsub, next_refresh, last_warning = None, 0.0, 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_refresh:
                self._mark(None, now)
                next_refresh = now + REFRESH_SECONDS
            self._read_due(now)
            wait = min([next_refresh, now + 1.0, *self._due.values()]) - now
            try:
                if pubsub is None:
                    pubsub = client.pubsub()
                    pubsub.subscribe(CHANNEL)
                message = pubsub.get_message(timeout=max(wait, 0.0))
            except (redis.RedisError, OSError) as exc:
                if now - last_warning > 30:
                    log.warning("event hub lost Redis (%s); reading watched assets every %ss",
                                exc, REFRESH_SECONDS)
                    last_warning = now
                pubsub = _close_quietly(pubsub)
                self._stopping.wait(1.0)
                continue
            if message is None:
                continue
            if message["type"] == "subscribe":  # anything announced before this was missed
                self._mark(None, time.monotonic())
            elif message["type"] == "message":
                self._mark(message["data"].decode(), time.monotonic())
        _close_quietly(pubsub)

    def _mark(self, row_id: str | None, now: float) -> None:
        """Schedule a read of the watched assets that `row_id` names or links (None: all)."""
        with self._lock:
            if row_id is None:
                assets = list(self._listeners)
            else:
                assets = [a for a, linked in self._links.items() if linked == row_id]
                if row_id in self._listeners:
                    assets.append(row_id)
        for asset_id in assets:
            due = max(now, self._last_read.get(asset_id, 0.0) + 1.0 / READS_PER_SECOND)
            self._due[asset_id] = min(self._due.get(asset_id, due), due)

    def _read_due(self, now: float) -> None:
        ready = [asset_id for asset_id, due in self._due.items() if due <= now]
        if not ready:
            return
        try:
            states = read_snapshots(self.db, ready)
        except Exception:  # the database is down or busy: read them again in a second
            log.warning("event hub could not read %d assets", len(ready), exc_info=True)
            for asset_id in ready:
                self._due[asset_id] = now + 1.0
            return
        with self._lock:
            for asset_id in ready:
                del self._due[asset_id]
                self._last_read[asset_id] = now
                state = states.get(asset_id, GONE)
                if isinstance(state, Snapshot) and state.video_file_id:
                    self._links[asset_id] = state.video_file_id
                for listener in self._listeners.get(asset_id, ()):
                    listener.offer(state)
            for asset_id in [a for a in self._last_read if a not in self._listeners]:
                del self._last_read[asset_id]


def _close_quietly(pubsub) -> None:
    if pubsub is not None:
        try:
            pubsub.close()
        except Exception:  # already broken: nothing more to release
            pass
    return None


def parse_last_event_id(value: str | None) -> int | None:
    """A revision this server sent as an event id; anything else is ignored (None)."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def open_stream(hub: Hub, user: Caller, asset_id, last_event_id: int | None
                ) -> Iterator[bytes] | None:
    """The caller's asset's event stream, or None when the client has seen its last event
    already (answer 204: EventSource stops reconnecting). Another owner's asset: NotFound."""
    listener = hub.watch(str(asset_id))  # before the read: no change can fall between them
    try:
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
    return _stream(hub, listener, first, last_event_id)


def _stream(hub: Hub, listener: Listener, first: Snapshot, sent: int | None) -> Iterator[bytes]:
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        status, item = None, first
        while item != CLOSED:
            if item == GONE:
                yield _event("deleted", {"id": listener.asset_id})
                return
            if item is None:
                yield b": keep-alive\n\n"
            elif sent is None or item.revision > sent:
                kind = "status" if item.state["status"] != status else "progress"
                yield _event(kind, item.state, item.revision)
                sent, status = item.revision, item.state["status"]
                if item.finished:
                    return
            item = listener.take(KEEPALIVE_SECONDS)
    finally:
        hub.unwatch(listener)


def _event(kind: str, data: dict, event_id: int | None = None) -> bytes:
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines += [f"event: {kind}", f"data: {json.dumps(data, separators=(',', ':'))}", "", ""]
    return "\n".join(lines).encode()
