"""Render jobs that wait for their sources: moved on once every source is analysed (queued),
or one is gone or failed its analysis (failed, naming it).

A job waits (`waiting`, its asset shows queued) while a source it names is still being
analysed, or is a render not yet finished. `settle_waiting` moves the waiting jobs on; it is
called whenever a source's analysis ends or a source is deleted (worker/tasks/media.py,
api/services/waiting.py), right after the API commits a waiting job, and by the reaper as a
safety net. A render that ends releases those that waited for it as a source: after the
commit that recorded its end (`finishes.ended_owners`), `_release_waiting` settles its
owner's waiting jobs and sends the ones queued, in every process that sends through Celery
(`finishes.use_celery`: the API and the workers, whose entry points import this module).
"""
from __future__ import annotations

import logging

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from . import finishes
from .edit import parse_edit
from .job_moves import may_go, moved
from .models import RenderJob, utcnow
from .queue import RENDER_TASK, send
from .sources import find_sources, not_ready, ready
from .states import JobState

log = logging.getLogger(__name__)


def settle_waiting(session: Session, owner_id: str | None = None) -> list[tuple[str, str]]:
    """Move on the waiting jobs (of `owner_id`, or everyone's): queued once every source is
    analysed, failed naming a source that was deleted or whose analysis failed; the others
    keep waiting. Returns the (job id, queue) of the jobs queued: the caller sends them.

    An analysis that ends while the API commits a waiting job is seen by one of the two:
    each settles after its own commit.
    """
    query = select(RenderJob.id, RenderJob.owner_id, RenderJob.edit_data, RenderJob.queue).where(
        RenderJob.state == JobState.WAITING)
    if owner_id is not None:
        query = query.where(RenderJob.owner_id == owner_id)
    queued = []
    for job_id, owner, data, queue in session.execute(query).all():
        verdict = _verdict(session, owner, data)
        if verdict is None:
            continue  # a source is still being analysed
        to, error = verdict
        result = session.execute(
            update(RenderJob).where(RenderJob.id == job_id, may_go(to, JobState.WAITING))
            .values(state=to, error=error, enqueued_at=utcnow(), queued_at=utcnow())
        )
        if result.rowcount != 1:
            continue  # canceled, or settled by another process, meanwhile
        if to == JobState.FAILED:
            moved(session, job_id, JobState.FAILED, error)
        else:
            queued.append((job_id, queue))
    session.commit()
    return queued


def settle_and_send(session: Session, celery, owner_id: str) -> None:
    """settle_waiting for the owner, then each render it queued sent to its queue."""
    for job_id, queue in settle_waiting(session, owner_id):
        send(celery, RENDER_TASK, [job_id], queue)


def _verdict(session: Session, owner: str, data) -> tuple[JobState, str | None] | None:
    """Where a waiting job goes, by its sources: (failed, the first reason), (queued, None),
    or None while a source is still being analysed."""
    try:
        rows = find_sources(session, owner, parse_edit(data)[0])
    except ValueError as exc:  # validated when accepted; a stricter Canopy since may refuse it
        return JobState.FAILED, f"the edit is no longer valid: {exc}"
    reasons = [why for why in (not_ready(i, row) for i, row in rows.items()) if why]
    if reasons:
        return JobState.FAILED, reasons[0]
    if all(ready(row) for row in rows.values()):
        return JobState.QUEUED, None
    return None


@event.listens_for(Session, "after_commit")
def _release_waiting(committed: Session) -> None:
    """A render of each owner that `finishes.record` noted ended: the renders that waited for
    it (as a source) are queued and sent, or failed naming it, whose end settles those
    waiting for them in turn. In a session of the same kind (its listeners announce what it
    changes); the reaper's `settle_waiting` is the safety net if this process dies in between."""
    owners, celery = finishes.ended_owners(committed)
    if not owners or celery is None:
        return
    try:
        with type(committed)(bind=committed.get_bind(), expire_on_commit=False) as session:
            for owner in sorted(owners):
                settle_and_send(session, celery, owner)
    except Exception:  # the commit that called stands; the reaper settles them later
        log.exception("could not settle the renders waiting on owners %s", sorted(owners))
