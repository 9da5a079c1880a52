"""The finish of a render, recorded once, whoever decides it (worker, reaper, API cancel).

Every move of a job into a finished state calls `record` in the same transaction, which
writes its `RenderFinish` row and adds it to the running totals metrics read
(`shared.totals`), and, when the edit carried a callback_url, the row is the webhook's
outbox entry. Once that transaction commits, the
delivery task is sent (`after_commit` below); if the send is lost (Redis down, a crash in
between), the reaper re-sends pending webhooks whose try is overdue (`overdue_webhooks`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.orm import Session

from . import totals
from .edit import callback_url_of
from .models import Asset, RenderFinish, RenderJob, utcnow
from .queue import HOOKS_QUEUE, WEBHOOK_TASK, send
from .states import DeliveryState, JobState

log = logging.getLogger(__name__)

_DUE = "canopy.webhooks_due"  # session.info key: finish ids whose webhook is due on commit
_ENDED = "canopy.renders_ended"  # session.info key: owners a render of whom ended
# How each process sends the delivery task, set at its start (API: its Celery client; a
# worker: its app); None: the reaper sends it later.
_sender: Callable[[str], object] | None = None
_celery = None


def use_celery(celery) -> None:
    """Send due webhooks through `celery` once their finish commits, and the renders that
    waited for a render that ended then (it was one of their sources)."""
    global _sender, _celery
    _sender = lambda finish_id: send_webhook(celery, finish_id)  # noqa: E731
    _celery = celery


def send_webhook(celery, finish_id: str) -> bool:
    return send(celery, WEBHOOK_TASK, [finish_id], HOOKS_QUEUE)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return max((end - start).total_seconds(), 0.0) if start and end else None


def record(session: Session, job_id: str) -> None:
    """Write the finish of `job_id`, just moved into a finished state in this transaction."""
    row = session.execute(
        select(RenderJob.owner_id, RenderJob.asset_id, RenderJob.edit_id, RenderJob.state,
               RenderJob.error, RenderJob.created_at, RenderJob.started_at, RenderJob.edit_data,
               Asset.project_id, Asset.duration, Asset.size)
        .join(Asset, Asset.id == RenderJob.asset_id).where(RenderJob.id == job_id)
    ).one()
    now = utcnow()
    uploaded = row.state == JobState.UPLOADED
    callback = callback_url_of(row.edit_data)
    finish = RenderFinish(
        job_id=job_id, owner_id=row.owner_id, asset_id=row.asset_id, project_id=row.project_id,
        edit_id=row.edit_id, state=row.state, error=row.error if row.state == JobState.FAILED else None,
        finished_at=now, queued_seconds=_seconds(row.created_at, row.started_at),
        wall_seconds=_seconds(row.started_at, now),
        output_seconds=row.duration if uploaded else None, bytes=row.size if uploaded else None,
        callback_url=callback, webhook_state=DeliveryState.PENDING if callback else None,
        next_try_at=now if callback else None, tries=0,
    )
    session.add(finish)
    session.flush()
    session.info.setdefault(_ENDED, set()).add(row.owner_id)
    totals.add_finish(session, finish)
    if callback:
        session.info.setdefault(_DUE, []).append(finish.id)


@event.listens_for(Session, "after_commit")
def _send_due(session: Session) -> None:
    due = session.info.pop(_DUE, None)
    if due and _sender is not None:
        for finish_id in due:
            _sender(finish_id)


def ended_owners(committed: Session) -> tuple[set[str], object]:
    """The owners a render of whom ended in the transaction `committed` just committed, and
    the app to send the renders that waited for them through (None: the reaper sends them);
    shared/waiting_jobs.py settles those renders."""
    return committed.info.pop(_ENDED, set()), _celery


@event.listens_for(Session, "after_rollback")
def _forget_due(session: Session) -> None:
    session.info.pop(_DUE, None)
    session.info.pop(_ENDED, None)


def overdue_webhooks(session: Session, grace_s: float, now: datetime | None = None) -> list[str]:
    """Pending webhooks whose next try was due more than `grace_s` ago (its message was lost),
    marked due now, so that the next re-send waits another `grace_s`."""
    now = now or utcnow()
    overdue = (RenderFinish.webhook_state == DeliveryState.PENDING,
               RenderFinish.next_try_at < now - timedelta(seconds=grace_s))
    ids = list(session.execute(select(RenderFinish.id).where(*overdue)).scalars())
    if ids:  # a try that started meanwhile moved its next_try_at: it is left alone
        session.execute(update(RenderFinish).where(RenderFinish.id.in_(ids), *overdue)
                        .values(next_try_at=now))
    return ids


PRUNE_BATCH = 1000  # rows a reaper round deletes at most


def prune(session: Session, keep_days: float, now: datetime | None = None,
          batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` finishes older than `keep_days` whose webhook is done (delivered
    or failed) or that had none: nothing reads them any more (metrics read the running
    totals), and the farm's history stays out of its tables. Pending ones stay, however old."""
    if keep_days <= 0:
        return 0
    before = (now or utcnow()) - timedelta(days=keep_days)
    ids = list(session.execute(
        select(RenderFinish.id).where(
            RenderFinish.finished_at < before,
            or_(RenderFinish.webhook_state.is_(None),
                RenderFinish.webhook_state != DeliveryState.PENDING))
        .limit(batch)).scalars())
    if ids:
        session.execute(delete(RenderFinish).where(RenderFinish.id.in_(ids)))
    return len(ids)
