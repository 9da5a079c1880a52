"""The farm at a glance, for every signed-in user, without other owners' names or ids."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from shared import render_cache
from shared.models import Asset, RenderJob, RenderPiece, iso
from shared.queue import QUEUES, BrokerView
from shared.states import ACTIVE, PIECE_ACTIVE, JobState

from ..schemas.farm import CacheOut, FailedRender, FarmOut, QueueOut, RunningRender, WorkerOut

FAILURES_SHOWN = 10
FAILURES_WINDOW = timedelta(hours=24)
RUNNING_SHOWN = 100
# Ids (keys embed owner ids too) and e-mail addresses are hidden in others' failure reasons.
_IDENTIFYING = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
)


def redact(reason: str) -> str:
    return _IDENTIFYING.sub("…", reason)


def worker_name(worker_id: str | None) -> str | None:
    """A job's or a piece's `worker_id` is the Celery node name, a colon, and the pool
    process id (worker/attempt.py's `worker_id`)."""
    return worker_id.rpartition(":")[0] or worker_id if worker_id else None


def farm_view(session: Session, caller_id: str, broker: BrokerView, now: datetime,
              cache_budget: int = 0) -> FarmOut:
    queued = dict(session.execute(
        select(RenderJob.queue, func.count()).where(RenderJob.state == JobState.QUEUED)
        .group_by(RenderJob.queue)
    ).all())
    names = list(QUEUES) + sorted(set(queued) - set(QUEUES))
    queues = [QueueOut(name=name, queued_renders=queued.get(name, 0),
                       waiting_messages=broker.depths.get(name) if broker.depths else None)
              for name in names]
    running = _running(session, caller_id)
    workers = None
    if broker.workers is not None:
        held = _held(session)
        workers = [WorkerOut(name=name, queues=consumed, running=held[name])
                   for name, consumed in broker.workers.items()]
    return FarmOut(broker_answered=broker.depths is not None, queues=queues, workers=workers,
                   running=running, failures=_failures(session, caller_id, now),
                   cache=_cache(session, caller_id, cache_budget), generated_at=iso(now))


def _cache(session: Session, caller_id: str, budget: int) -> CacheOut:
    """The caller's render cache only: another owner's is none of theirs."""
    entries, size = render_cache.size(session, caller_id)
    return CacheOut(entries=entries, bytes=size, budget=budget)


def _held(session: Session) -> Counter[str]:
    """How many renders each worker holds a lease on: the job's, or a piece's of it."""
    holders = union(
        select(RenderJob.id, RenderJob.worker_id).where(RenderJob.state.in_(sorted(ACTIVE))),
        select(RenderPiece.job_id, RenderPiece.worker_id)
        .where(RenderPiece.state.in_(sorted(PIECE_ACTIVE))))
    held = {(job_id, worker_name(worker_id))
            for job_id, worker_id in session.execute(holders).all() if worker_id}
    return Counter(name for _, name in held)


def _running(session: Session, caller_id: str) -> list[RunningRender]:
    # A render in pieces: its job holds no lease while its pieces render, each on some worker.
    pieces = (select(RenderPiece.job_id, func.count().label("n"))
              .where(RenderPiece.state.in_(sorted(PIECE_ACTIVE)))
              .group_by(RenderPiece.job_id).subquery())
    rows = session.execute(
        select(RenderJob.owner_id, RenderJob.asset_id, Asset.filename, RenderJob.queue,
               RenderJob.state, Asset.progress, RenderJob.attempt, RenderJob.worker_id, pieces.c.n)
        .join(Asset, Asset.id == RenderJob.asset_id)
        .outerjoin(pieces, pieces.c.job_id == RenderJob.id)
        .where(RenderJob.state.in_(sorted(ACTIVE)))
        .order_by(RenderJob.created_at).limit(RUNNING_SHOWN)
    ).all()
    return [
        RunningRender(mine=owner == caller_id, asset_id=asset_id if owner == caller_id else None,
                      filename=filename if owner == caller_id else None, queue=queue,
                      state=state, progress=progress, attempt=attempt,
                      worker=worker_name(worker_id) or (
                          f"{n} piece{'s' if n > 1 else ''} rendering" if n else None))
        for owner, asset_id, filename, queue, state, progress, attempt, worker_id, n in rows
    ]


def _failures(session: Session, caller_id: str, now: datetime) -> list[FailedRender]:
    rows = session.execute(
        select(RenderJob.owner_id, RenderJob.asset_id, Asset.filename, RenderJob.queue,
               RenderJob.attempt, RenderJob.error, RenderJob.updated_at)
        .join(Asset, Asset.id == RenderJob.asset_id)
        .where(RenderJob.state == JobState.FAILED, RenderJob.updated_at >= now - FAILURES_WINDOW)
        .order_by(RenderJob.updated_at.desc()).limit(FAILURES_SHOWN)
    ).all()
    out = []
    for owner, asset_id, filename, queue, attempt, error, failed_at in rows:
        mine = owner == caller_id
        reason = error or "no reason was recorded"
        out.append(FailedRender(mine=mine, asset_id=asset_id if mine else None,
                                filename=filename if mine else None, queue=queue,
                                attempt=attempt, error=reason if mine else redact(reason),
                                failed_at=iso(failed_at)))
    return out
