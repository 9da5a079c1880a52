"""Media change announcements: after each commit that changed an asset or video file row,
its id goes out on one Redis pub/sub channel; API processes relay it to the event streams
of that asset (or of the assets linking that video file).

The message only names the row. A listener reads the committed row itself (once per
process, not per stream), so a late, duplicated or reordered message can never show a
stale state, and a lost one costs only latency: streams also re-read on (re)subscribing.

Changes are collected per session, with no help from the code that writes: ORM flushes of
`Asset` and `VideoFile` rows are seen in `after_flush`, bulk `update(Asset)` statements in
`do_orm_execute` (the rows their WHERE names are read just before, in the same transaction).
A `Database` whose commits should be announced is attached to an `Announcer` once per process.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .models import Asset, VideoFile

log = logging.getLogger(__name__)

CHANNEL = "canopy:media-changed"
_CHANGED = "canopy.changed_media"  # Session.info key: ids changed in the open transaction
MEDIA = (Asset, VideoFile)


def media_changed(session: Session, *row_ids: str) -> None:
    """Announce these assets (or video files) once `session` commits."""
    if row_ids:
        session.info.setdefault(_CHANGED, set()).update(row_ids)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    # Still the pre-flush lists here: every media row this flush inserted, updated or deleted.
    changed = [obj.id for obj in (*session.new, *session.deleted) if isinstance(obj, MEDIA)]
    changed += [obj.id for obj in session.dirty
                if isinstance(obj, MEDIA) and session.is_modified(obj)]
    media_changed(session, *changed)


_BY_TABLE = {model.__table__: model for model in MEDIA}


@event.listens_for(Session, "do_orm_execute")
def _bulk_update(state) -> None:
    model = _BY_TABLE.get(getattr(state.statement, "table", None)) if state.is_update else None
    if model is not None and state.statement.whereclause is not None:
        media_changed(state.session, *state.session.execute(
            select(model.id).where(state.statement.whereclause)).scalars())


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


class Announcer:
    """Publishes the media rows each committed transaction changed, on `CHANNEL`.

    A commit has happened when this runs: a Redis that is down is logged (at most every
    `QUIET_SECONDS`), never raised, and streams catch up when they next read the row.
    """

    QUIET_SECONDS = 30.0

    def __init__(self, redis_url: str):
        import redis

        self._errors = (redis.RedisError, OSError)
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self._last_warning = 0.0

    def attach(self, db) -> "Announcer":
        """Announce what the sessions of `db` (a `shared.db.Database`) commit."""
        event.listen(db.sessionmaker, "after_commit", self._committed)
        return self

    def _committed(self, session: Session) -> None:
        changed = session.info.pop(_CHANGED, None)
        if changed:
            self.publish(changed)

    def publish(self, row_ids) -> None:
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for row_id in sorted(row_ids):
                    pipe.publish(CHANNEL, row_id)
                pipe.execute()
        except self._errors as exc:
            now = time.monotonic()
            if now - self._last_warning > self.QUIET_SECONDS:
                self._last_warning = now
                log.warning("could not announce media changes on Redis: %s", exc)
