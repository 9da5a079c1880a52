"""Live status events: `GET /assets/{id}/events` as Server-Sent Events.

Each API process subscribes once to the Redis channel on which every commit that changes an
asset or video file names it (`shared.events`). Its `Hub` thread reads each announced asset
that this process's streams watch, once for all of them and at most `READS_PER_SECOND`
times a second, and hands the state to each stream; a stream sends it when its revision is
newer than the last one it sent. After (re)subscribing and every `REFRESH_SECONDS` the hub
reads every watched asset again: a lost message delays an event, it never hangs a stream.

The hub also keeps the process's stream slots: `max_streams` in all, `max_threaded` of them
served by request threads (`api/streams.py`), and each user's share over all processes
(`api/streamquota.py`).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shared.config import Settings
from shared.db import Database
from shared.errors import CanopyError
from shared.events import CHANNEL
from shared.models import Asset

from .metrics import STREAMS
from .present import asset_state
from .streamquota import RENEW_SECONDS, StreamQuota

log = logging.getLogger(__name__)

READS_PER_SECOND = 4  # per watched asset and process: the most events a stream gets a second
REFRESH_SECONDS = 10.0
MAX_STREAMS = 10_000  # per API process, unless gunicorn.conf.py sets fewer (open files)
MAX_THREADED = 32  # streams served by request threads, where the loop cannot take them
RETRY_AFTER_S = 10


class TooManyStreams(CanopyError):
    """This process holds all the streams it may."""

    status = 503
    headers = {"Retry-After": str(RETRY_AFTER_S)}


class TooManyOfYours(CanopyError):
    """The caller holds CANOPY_STREAMS_PER_USER streams already."""

    status = 429
    headers = {"Retry-After": str(RETRY_AFTER_S)}


@dataclass(frozen=True)
class Snapshot:
    """An asset's state as `/assets/{id}/status` answers it, and the revision it was read at."""

    revision: int
    state: dict
    video_file_id: str | None  # a video-reference asset's status is its library file's

    @property
    def finished(self) -> bool:
        return self.state["finished"]  # a stream ends there: a render's end, a probe's


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

    def __init__(self, asset_id: str, user_id: str = "", threaded: bool = True):
        self.asset_id, self.user_id, self.threaded = asset_id, user_id, threaded
        self.slot = uuid.uuid4().hex  # its member in the user's count (api/streamquota.py)
        self.wake = None  # called after each offer (the stream loop's), if set
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
        if self.wake is not None:
            self.wake()

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

    def __init__(self, redis_url: str, db: Database,
                 keepalive: float = Settings.events_keepalive_seconds, per_user: int = 0):
        self.redis_url = redis_url
        self.db = db
        self.keepalive = keepalive  # seconds an idle stream waits before a comment line
        self.quota = StreamQuota(redis_url, per_user)
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}
        self._links: dict[str, str] = {}  # watched asset id → the video file it follows
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.stream_loop = None  # made on the first hand-off (api/streamloop.py's loop_of)
        self.max_streams = MAX_STREAMS
        self.max_threaded = MAX_THREADED
        self._counts = {True: 0, False: 0}  # open streams: served by threads, by the loop
        self._given_back: deque[tuple[str, str]] = deque()  # slots for the hub to release
        # Used by the hub's thread only: when each asset is to be read next, and was last.
        self._due: dict[str, float] = {}
        self._last_read: dict[str, float] = {}

    @property
    def streams(self) -> int:
        return self._counts[True] + self._counts[False]

    def watch(self, asset_id: str, user_id: str = "", threaded: bool = True) -> Listener:
        """A slot and a listener for one stream; TooManyStreams when this process has no slot
        left (for a stream in a request thread: `max_threaded`), TooManyOfYours when the user
        holds their share over all processes."""
        listener = Listener(asset_id, user_id, threaded)
        with self._lock:
            if self._stopping.is_set():
                raise TooManyStreams("the server is stopping; reconnect")
            if self.streams >= self.max_streams or (
                    threaded and self._counts[True] >= self.max_threaded):
                raise TooManyStreams("this server holds as many event streams as it may; "
                                     "retry later or poll /assets/{id}/status")
            self._add(listener)
        if not self.quota.take(user_id, listener.slot):
            self._remove(listener)
            raise TooManyOfYours(f"you hold {self.quota.per_user} event streams already "
                                 "(CANOPY_STREAMS_PER_USER); close one or poll /assets/{id}/status")
        return listener

    def _add(self, listener: Listener) -> None:
        self._listeners.setdefault(listener.asset_id, set()).add(listener)
        self._counts[listener.threaded] += 1
        STREAMS.inc()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
            self._thread.start()

    def _remove(self, listener: Listener) -> bool:
        with self._lock:
            group = self._listeners.get(listener.asset_id)
            if group is None or listener not in group:
                return False
            group.discard(listener)
            self._counts[listener.threaded] -= 1
            STREAMS.dec()
            if not group:
                del self._listeners[listener.asset_id]
                self._links.pop(listener.asset_id, None)
            return True

    def seen(self, asset_id: str, state: Snapshot) -> None:
        """A stream read its asset itself: follow the video file that it links, if any."""
        with self._lock:
            if asset_id in self._listeners and state.video_file_id:
                self._links[asset_id] = state.video_file_id

    def unwatch(self, listener: Listener) -> None:
        """Free its slot (the user's count is released by the hub's thread: no caller waits
        on Redis for it)."""
        if self._remove(listener):
            self._given_back.append((listener.user_id, listener.slot))

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
        pubsub, next_refresh, last_warning, next_renew = None, 0.0, 0.0, 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_refresh:
                self._mark(None, now)
                next_refresh = now + REFRESH_SECONDS
            if now >= next_renew:
                self.quota.renew(self._held())
                next_renew = now + RENEW_SECONDS
            self._release()
            self._read_due(now)
            wait = min([next_refresh, now + (0.1 if self._given_back else 1.0),
                        *self._due.values()]) - now
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

    def _held(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(listener.user_id, listener.slot)
                    for group in self._listeners.values() for listener in group]

    def _release(self) -> None:
        while self._given_back:
            self.quota.give_back(*self._given_back.popleft())

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
