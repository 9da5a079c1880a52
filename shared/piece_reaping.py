"""The reaper's round over the pieces of renders in pieces: pieces whose worker vanished,
joins nobody took, and messages Redis lost.

`reap` reads top to bottom: the pieces whose lease ran out are queued again (failed after
MAX_ATTEMPTS, failing their job); the jobs whose pieces are all stored but whose join nobody
took are queued again (their next attempt finds the plan written and joins); and the queued
pieces whose message went out long ago, with those just requeued, are listed for the caller
to send again (claims make duplicates harmless). Every move is a compare-and-set built from
`shared.states.PIECE` (or `JOB`, for a job), as a worker's are.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, tuple_, update
from sqlalchemy.orm import Session

from .job_moves import may_go, moved
from .leases import after_failure, lease_clock, lease_ran_out
from .models import RenderJob, RenderPiece, utcnow
from .piece_join import all_uploaded
from .piece_jobs import fail_job, piece_may_go
from .states import PIECE_ACTIVE, JobState, PieceState


@dataclass
class Reaped:
    requeued: list[tuple[str, int]]  # (job id, piece index)
    failed_jobs: list[str]
    resend: list[tuple[str, int, str]]  # (job id, piece index, queue)
    rejoin: list[tuple[str, str]]  # (job id, queue): jobs requeued to be joined again


def reap(session: Session, queued_grace_s: float, now: datetime | None = None) -> Reaped:
    """Pieces whose worker vanished, messages Redis lost, and joins nobody took.

    - a rendering/uploading piece whose lease ran out is queued again (failed after
      MAX_ATTEMPTS, failing its job);
    - a job whose pieces are all stored, that nobody holds, and whose last piece's lease ran
      out (its worker died before the join's compare-and-set) is queued again: its next
      attempt finds the plan done and joins;
    - a queued piece of a running job whose message went out more than `queued_grace_s`
      ago is listed to be re-sent (claims make duplicates harmless), as are those requeued.
    """
    clock = now if now is not None else lease_clock(session)
    now = now or utcnow()
    out = Reaped([], [], [], [])
    _requeue_expired(session, clock, now, out)
    _requeue_unjoined(session, clock, now, out)
    out.resend = _lost_messages(session, now - timedelta(seconds=queued_grace_s), now,
                                out.requeued)
    return out


def _requeue_expired(session: Session, clock, now: datetime, out: Reaped) -> None:
    """Requeue the pieces whose lease ran out before `clock` (failed after MAX_ATTEMPTS,
    failing their job)."""
    expired = session.execute(
        select(RenderPiece.job_id, RenderPiece.index, RenderPiece.attempt, RenderPiece.state)
        .join(RenderJob, RenderJob.id == RenderPiece.job_id)
        .where(RenderPiece.state.in_(sorted(PIECE_ACTIVE)),
               RenderPiece.lease_until < clock, RenderJob.state == JobState.RENDERING)
    ).all()
    for job_id, index, attempt, state in expired:
        to, reason = lease_ran_out(PieceState, state, attempt)
        final = to == PieceState.FAILED
        result = session.execute(
            update(RenderPiece)
            .where(RenderPiece.job_id == job_id, RenderPiece.index == index,
                   RenderPiece.attempt == attempt, piece_may_go(to, PieceState(state)),
                   RenderPiece.lease_until < clock)
            .values(state=to, error=reason, lease_until=None, worker_id=None, enqueued_at=now)
        )
        if result.rowcount != 1:
            continue
        if not final:
            out.requeued.append((job_id, index))
        elif fail_job(session, job_id, index, reason):
            out.failed_jobs.append(job_id)
    session.commit()


def _requeue_unjoined(session: Session, clock, now: datetime, out: Reaped) -> None:
    """Queue again the jobs whose pieces are all stored but whose join nobody took (failed
    after MAX_ATTEMPTS)."""
    leased_recently = exists().where(RenderPiece.job_id == RenderJob.id,
                                     RenderPiece.lease_until >= clock)
    orphans = session.execute(
        select(RenderJob.id, RenderJob.attempt, RenderJob.queue)
        .where(RenderJob.state == JobState.RENDERING, RenderJob.lease_until.is_(None),
               RenderJob.frame_count.is_not(None), all_uploaded(RenderJob.id),
               ~leased_recently)
    ).all()
    reason = "the join's worker stopped before it began"
    for job_id, attempt, queue in orphans:
        to = after_failure(JobState, attempt)
        final = to == JobState.FAILED
        result = session.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.attempt == attempt,
                   may_go(to, JobState.RENDERING),
                   RenderJob.lease_until.is_(None))
            .values(state=to, enqueued_at=now, error=reason if final else None)
        )
        if result.rowcount == 1:
            moved(session, job_id, to, reason)
            if final:
                out.failed_jobs.append(job_id)
            else:
                out.rejoin.append((job_id, queue))
    session.commit()


def _lost_messages(session: Session, stale: datetime, now: datetime,
                   requeued: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
    """The queued pieces of running jobs whose message went out before `stale` (or that
    were just `requeued`), as (job id, index, queue), their message marked sent `now`."""
    resent = RenderPiece.enqueued_at < stale
    if requeued:
        resent = resent | tuple_(RenderPiece.job_id, RenderPiece.index).in_(requeued)
    lost = [tuple(row) for row in session.execute(
        select(RenderPiece.job_id, RenderPiece.index, RenderJob.queue)
        .join(RenderJob, RenderJob.id == RenderPiece.job_id)
        .where(RenderPiece.state == PieceState.QUEUED, RenderJob.state == JobState.RENDERING,
               RenderJob.cancel_requested.is_(False), resent)
    ).all()]
    for job_id, index, _queue in lost:
        session.execute(update(RenderPiece)
                        .where(RenderPiece.job_id == job_id, RenderPiece.index == index)
                        .values(enqueued_at=now))
    session.commit()
    return lost
