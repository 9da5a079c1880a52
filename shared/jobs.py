"""The life of a render job, as compare-and-set updates that any process may race on.

[waiting →] queued → rendering (claimed: attempt + 1, a lease) → uploading → uploaded,
or failed (with the reason), or canceled; the allowed moves are `shared.states.JOB`. A job
waits while a source it names is still being analysed (`settle_waiting` moves it on). Every
transition is one conditional UPDATE whose WHERE that table builds (`_may_go`), so two
workers, a late worker whose lease was taken over, or several reapers can never both win.
The job's asset mirrors its state, progress and error, and every move writes it in the same
transaction through one function (`moved`), which records the finish of a job that ended.
shared/piece_jobs.py builds the pieces' life on these helpers.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, event, func, select, update
from sqlalchemy.orm import Session

from . import finishes
from .edit import parse_edit
from .models import Asset, RenderJob, utcnow
from .queue import RENDER_TASK, send
from .sources import find_sources, not_ready, ready
from .states import ACTIVE, FINISHED, JOB, PENDING, Beat, JobState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    job_id: str
    attempt: int


def lease_clock(session: Session):
    """Now, by the database's clock where it has one, for writing and checking leases.

    Workers and reapers on other machines may disagree about the time: a lease written by
    one clock and judged by another would expire early (healthy renders requeued) or late.
    A SQLite file is only ever shared by the processes of one machine: its clock is ours.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", func.now())  # naive UTC, as the columns hold
    return utcnow()


def lease_until(session: Session, lease_s: float):
    """A lease that runs `lease_s` seconds from now, by `lease_clock`."""
    return lease_clock(session) + timedelta(seconds=lease_s)


def _may_go(to: JobState, frm: JobState | frozenset[JobState] | None = None):
    """WHERE the job's state may move to `to` (from `frm` only, when given), per JOB."""
    return JOB.may_go(RenderJob.state, to, frm)


def _unless_canceled(state: JobState):
    """`state`, or canceled for a job whose cancel was asked meanwhile (a requeue must
    never leave a job queued that no claim will take)."""
    return case((RenderJob.cancel_requested.is_(True), JobState.CANCELED.value), else_=state.value)


def _state(session: Session, job_id: str) -> JobState:
    return JobState(session.execute(select(RenderJob.state).where(RenderJob.id == job_id)).scalar_one())


def at_least(column, value):
    """`column`, raised to `value` if lower: a figure that never goes back (the asset's
    progress, whose retry starts again from 0 beneath it; a piece's frames done)."""
    return case((column < value, value), else_=column)


def set_asset(session: Session, job_id: str, **values) -> None:
    """Write `values` on the job's asset."""
    asset_id = select(RenderJob.asset_id).where(RenderJob.id == job_id).scalar_subquery()
    session.execute(update(Asset).where(Asset.id == asset_id).values(**values))


def moved(session: Session, job_id: str, state: JobState, error: str | None = None,
          **values) -> None:
    """The job moved to `state` in this transaction: its asset shows the state (its error
    too, when failed; `values` besides), and a job that ended gets its finish recorded
    (shared/finishes.py) with it, whoever ended it: a worker, a reaper or a cancel."""
    set_asset(session, job_id, status=state,
              error=error[:4000] if error and state == JobState.FAILED else None, **values)
    if state in FINISHED:
        finishes.record(session, job_id)


def claim(session: Session, job_id: str, worker_id: str, lease_s: float) -> Claim | None:
    """Take a queued job; None if another worker has it, or it ended or was canceled."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, _may_go(JobState.RENDERING),
               RenderJob.cancel_requested.is_(False))
        .values(state=JobState.RENDERING, attempt=RenderJob.attempt + 1, worker_id=worker_id,
                lease_until=lease_until(session, lease_s),
                started_at=func.coalesce(RenderJob.started_at, utcnow()))
    )
    if result.rowcount != 1:
        session.rollback()
        mark_canceled(session, job_id)  # queued with a cancel asked: it ends now
        return None
    moved(session, job_id, JobState.RENDERING)
    attempt = session.execute(select(RenderJob.attempt).where(RenderJob.id == job_id)).scalar_one()
    session.commit()
    return Claim(job_id, attempt)


def _mine(claim_: Claim, to: JobState, frm: JobState | frozenset[JobState]):
    """WHERE the job is still this attempt's, in `frm`, and may move to `to`."""
    return (RenderJob.id == claim_.job_id, RenderJob.attempt == claim_.attempt, _may_go(to, frm))


def standing(session: Session, claim_: Claim) -> Beat:
    """Whether the job is still this attempt's, read without writing: the heartbeat's answer."""
    row = session.execute(
        select(RenderJob.attempt, RenderJob.state, RenderJob.cancel_requested)
        .where(RenderJob.id == claim_.job_id)
    ).first()
    if row is None:
        return Beat.DELETED
    if row.attempt != claim_.attempt or row.state not in ACTIVE:
        return Beat.LOST
    return Beat.CANCELED if row.cancel_requested else Beat.OK


def heartbeat(session: Session, claim_: Claim, lease_s: float, progress: float,
              state: JobState = JobState.RENDERING) -> Beat:
    """Renew the lease and record progress; the answer says whether to go on."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == claim_.job_id, RenderJob.attempt == claim_.attempt,
               RenderJob.state == state)
        .values(lease_until=lease_until(session, lease_s))
    )
    if result.rowcount != 1:
        session.rollback()
        answer = standing(session, claim_)
        session.rollback()
        return Beat.LOST if answer in (Beat.OK, Beat.CANCELED) else answer  # phase moved on
    set_asset(session, claim_.job_id,
              progress=at_least(Asset.progress, round(min(max(progress, 0.0), 1.0), 4)))
    answer = standing(session, claim_)
    session.commit()
    return answer


def start_upload(session: Session, claim_: Claim, lease_s: float) -> bool:
    result = session.execute(
        update(RenderJob)
        .where(*_mine(claim_, JobState.UPLOADING, JobState.RENDERING),
               RenderJob.cancel_requested.is_(False))
        .values(state=JobState.UPLOADING, lease_until=lease_until(session, lease_s))
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    moved(session, claim_.job_id, JobState.UPLOADING, progress=1.0)
    session.commit()
    return True


def finalize(session: Session, claim_: Claim, storage_key: str, size: int, **media) -> bool:
    """The render is stored: mark it uploaded, unless this attempt lost its lease or a cancel
    was asked meanwhile (`standing` tells which)."""
    result = session.execute(
        update(RenderJob).where(*_mine(claim_, JobState.UPLOADED, JobState.UPLOADING),
                                RenderJob.cancel_requested.is_(False))
        .values(state=JobState.UPLOADED, error=None)
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    moved(session, claim_.job_id, JobState.UPLOADED, uploaded=True, progress=1.0,
          storage_key=storage_key, size=size, **media)
    session.commit()
    return True


def fail(session: Session, claim_: Claim, error: str, retry: bool) -> JobState | Beat:
    """End this attempt: back to queued when `retry` and attempts remain, else failed
    (canceled instead of queued when a cancel was asked meanwhile). Beat.LOST or
    Beat.DELETED when the job is no longer this attempt's."""
    job = session.get(RenderJob, claim_.job_id)
    if job is None:
        return Beat.DELETED  # deleted with its asset meanwhile
    state = JobState.QUEUED if retry and job.attempt < MAX_ATTEMPTS else JobState.FAILED
    result = session.execute(
        update(RenderJob).where(*_mine(claim_, state, ACTIVE))
        .values(state=_unless_canceled(state) if state == JobState.QUEUED else state,
                error=error[:4000], lease_until=None, worker_id=None,
                enqueued_at=utcnow() if state == JobState.QUEUED else RenderJob.enqueued_at,
                queued_at=utcnow() if state == JobState.QUEUED else RenderJob.queued_at)
    )
    if result.rowcount != 1:
        session.rollback()
        return Beat.LOST
    state = _state(session, claim_.job_id)
    moved(session, claim_.job_id, state, error)
    session.commit()
    return state


def mark_canceled(session: Session, job_id: str) -> bool:
    """Cancel a job that is not running (queued), or acknowledge a running one's cancel."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.cancel_requested.is_(True),
               _may_go(JobState.CANCELED))
        .values(state=JobState.CANCELED, lease_until=None)
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    moved(session, job_id, JobState.CANCELED)
    session.commit()
    return True


def request_cancel(session: Session, job_id: str) -> JobState:
    """Ask for a cancel: a job no attempt holds (waiting, queued, or a chunked render whose
    pieces are out) ends now; a running one when its attempt next looks, and at the latest
    when it would finalize, which a cancel refuses, even during the upload. A finished job
    is left as it is: its state says so."""
    session.execute(
        update(RenderJob).where(RenderJob.id == job_id, _may_go(JobState.CANCELED))
        .values(cancel_requested=True)
    )
    ended = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.lease_until.is_(None),
               _may_go(JobState.CANCELED, {*PENDING, JobState.RENDERING}))
        .values(state=JobState.CANCELED)
    ).rowcount == 1
    state = _state(session, job_id)
    if ended:
        moved(session, job_id, JobState.CANCELED)
    session.commit()
    return state


def delete_for_assets(session: Session, asset_ids) -> None:
    """Delete the jobs of assets about to be deleted (a list or a select of ids), first.

    Workers lock a job's row before its asset's; deleting the asset first would lock them
    the other way round (the job goes by cascade) and deadlock with a heartbeat. A worker
    whose job is gone hears Beat.DELETED and removes what it uploaded.
    """
    session.execute(delete(RenderJob).where(RenderJob.asset_id.in_(asset_ids)))


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
            ready = [entry for owner in sorted(owners) for entry in settle_waiting(session, owner)]
    except Exception:  # the commit that called stands; the reaper settles them later
        log.exception("could not settle the renders waiting on owners %s", sorted(owners))
        return
    for job_id, queue in ready:
        send(celery, RENDER_TASK, [job_id], queue)


def settle_waiting(session: Session, owner_id: str | None = None) -> list[tuple[str, str]]:
    """Move on the waiting jobs (of `owner_id`, or everyone's): queued once every source is
    analysed, failed naming a source that was deleted or whose analysis failed; the others
    keep waiting. Returns the (job id, queue) of the jobs queued: the caller sends them.

    Called whenever a source's analysis ends or a source is deleted, and by the API right
    after it commits a waiting job (an analysis that ended in between is seen by one of the
    two: each looks after its own commit); the reaper calls it too, as a safety net.
    """
    query = select(RenderJob.id, RenderJob.owner_id, RenderJob.edit_data, RenderJob.queue).where(
        RenderJob.state == JobState.WAITING)
    if owner_id is not None:
        query = query.where(RenderJob.owner_id == owner_id)
    queued = []
    for job_id, owner, data, queue in session.execute(query).all():
        try:
            rows = find_sources(session, owner, parse_edit(data)[0])
        except ValueError as exc:  # validated when accepted; a stricter Canopy since may refuse it
            rows, reasons = {}, [f"the edit is no longer valid: {exc}"]
        else:
            reasons = [why for why in (not_ready(i, row) for i, row in rows.items()) if why]
        if reasons:
            to, error = JobState.FAILED, reasons[0]
        elif all(ready(row) for row in rows.values()):
            to, error = JobState.QUEUED, None
        else:
            continue  # a source is still being analysed
        result = session.execute(
            update(RenderJob).where(RenderJob.id == job_id, _may_go(to, JobState.WAITING))
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


@dataclass
class Reaped:
    requeued: list[str]
    failed: list[str]
    resend: list[tuple[str, str]]  # (job id, queue)


def reap(session: Session, queued_grace_s: float, queue_timeout_s: float = 86400,
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
        final = attempt >= MAX_ATTEMPTS
        to = JobState.FAILED if final else JobState.QUEUED
        reason = f"worker stopped renewing its lease ({state}, attempt {attempt})"
        result = session.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.attempt == attempt,
                   _may_go(to, JobState(state)), RenderJob.lease_until < clock)
            .values(state=to if final else _unless_canceled(to), error=reason,
                    lease_until=None, worker_id=None, enqueued_at=now, queued_at=now)
        )
        if result.rowcount == 1:
            new_state = _state(session, job_id)
            moved(session, job_id, new_state, reason)
            if new_state != JobState.CANCELED:
                (out.failed if final else out.requeued).append(job_id)
    session.commit()


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
                                    _may_go(JobState.FAILED, JobState(state)))
            .values(state=JobState.FAILED, error=reason)
        )
        if result.rowcount == 1:  # a worker may have claimed it since the select
            moved(session, job_id, JobState.FAILED, reason)
            failed.append(job_id)
    session.commit()
    return failed
