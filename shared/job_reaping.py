"""The reaper's round over render jobs: what dead workers held, messages Redis lost, and
jobs no worker takes, so that every job ends.

`reap` reads top to bottom: the waiting jobs a lost send left waiting are settled; the jobs
whose lease ran out are queued again (failed after MAX_ATTEMPTS, canceled when a cancel was
asked); the jobs pending too long fail; and the queued jobs whose message was sent long ago
and never claimed are listed, with those just requeued, for the caller to send again (claims
make duplicates harmless). Each step is its own compare-and-set per job, built from
`shared.states.JOB`, so reapers racing each other or a late worker move a job once.
The pieces of renders in pieces have their own round, shared/piece_reaping.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .config import Settings
from .job_moves import may_go, moved, state_of, unless_canceled
from .jobs import mark_canceled
from .leases import lease_clock, lease_ran_out
from .models import RenderJob, utcnow
from .states import ACTIVE, PENDING, JobState
from .waiting_jobs import settle_waiting


@dataclass
class Reaped:
    requeued: list[str]
    failed: list[str]
    resend: list[tuple[str, str]]  # (job id, queue)


def reap(session: Session, queued_grace_s: float,
         queue_timeout_s: float = Settings.queue_timeout_seconds,
         now: datetime | None = None) -> Reaped:
    """Requeue jobs whose lease expired (or fail them after MAX_ATTEMPTS); list lost messages.

    `resend` names queued jobs whose message was sent more than `queued_grace_s` ago and not
    claimed since: Redis may have lost it. The caller re-sends them (claims make duplicates
    harmless) — including the jobs requeued here. A job queued longer than
    `queue_timeout_s` (no worker serves its queue) fails, so that every job ends.
    """
    clock = now if now is not None else lease_clock(session)
    now = now or utcnow()
    out = Reaped([], [], [])
    ready = settle_waiting(session)  # a send lost after an analysis ended
    _requeue_expired(session, clock, now, out)
    out.failed += _expire_queued(session, now - timedelta(seconds=queue_timeout_s))
    lost = _lost_messages(session, now - timedelta(seconds=queued_grace_s), now, out.requeued)
    out.resend = lost + [entry for entry in ready if entry[0] not in {j for j, _ in lost}]
    return out


def _requeue_expired(session: Session, clock, now: datetime, out: Reaped) -> None:
    """Requeue the jobs whose lease ran out before `clock` (failed after MAX_ATTEMPTS;
    canceled when a cancel was asked: its worker died, the cancel stands)."""
    expired = session.execute(
        select(RenderJob.id, RenderJob.attempt, RenderJob.state, RenderJob.cancel_requested)
        .where(RenderJob.state.in_(sorted(ACTIVE)), RenderJob.lease_until < clock)
    ).all()
    for job_id, attempt, state, cancel in expired:
        if cancel and mark_canceled(session, job_id):
            continue
        to, reason = lease_ran_out(JobState, state, attempt)
        final = to == JobState.FAILED
        result = session.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.attempt == attempt,
                   may_go(to, JobState(state)), RenderJob.lease_until < clock)
            .values(state=to if final else unless_canceled(to), error=reason,
                    lease_until=None, worker_id=None, enqueued_at=now, queued_at=now)
        )
        if result.rowcount == 1:
            new_state = state_of(session, job_id)
            moved(session, job_id, new_state, reason)
            if new_state != JobState.CANCELED:
                (out.failed if final else out.requeued).append(job_id)
    session.commit()


def _expire_queued(session: Session, before: datetime) -> list[str]:
    """Fail the jobs pending since before `before`: since created or last requeued (a retry
    after hours of renders gets the whole timeout again), waiting or queued."""
    expired = session.execute(
        select(RenderJob.id, RenderJob.queue, RenderJob.state).where(
            RenderJob.state.in_(sorted(PENDING)),
            func.coalesce(RenderJob.queued_at, RenderJob.created_at) < before)
    ).all()
    failed = []
    for job_id, queue, state in expired:
        reason = (f"no worker took the job from queue {queue!r} in time"
                  if state == JobState.QUEUED else "its sources' analysis did not end in time")
        result = session.execute(
            update(RenderJob).where(RenderJob.id == job_id,
                                    may_go(JobState.FAILED, JobState(state)))
            .values(state=JobState.FAILED, error=reason)
        )
        if result.rowcount == 1:  # a worker may have claimed it since the select
            moved(session, job_id, JobState.FAILED, reason)
            failed.append(job_id)
    session.commit()
    return failed


def _lost_messages(session: Session, stale: datetime, now: datetime,
                   requeued: list[str]) -> list[tuple[str, str]]:
    """The queued jobs whose message went out before `stale` (or that were just `requeued`),
    as (job id, queue), their message marked sent `now`."""
    lost = session.execute(
        select(RenderJob.id, RenderJob.queue).where(
            RenderJob.state == JobState.QUEUED,
            (RenderJob.enqueued_at < stale) | RenderJob.id.in_(requeued))
    ).all()
    if lost:
        session.execute(update(RenderJob).where(RenderJob.id.in_([j for j, _ in lost]))
                        .values(enqueued_at=now))
        session.commit()
    return [(job_id, queue) for job_id, queue in lost]
