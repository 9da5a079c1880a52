"""A render job's attempts: claimed, kept, stored or failed, and canceled.

waiting → queued → rendering (claimed: attempt + 1, a lease) → uploading → uploaded, or
failed (with the reason), or canceled; the allowed moves are `shared.states.JOB`, each one
conditional UPDATE whose WHERE that table builds, followed by `moved` in the same
transaction (shared/job_moves.py), which every end of a job goes through. The attempt that claims a job (shared/leases.py) renews
its lease by `heartbeat`, which answers whether to go on; a write of an attempt whose lease
ran out and was taken over changes nothing. Around these: a waiting job moves on in
shared/waiting_jobs.py, a render in pieces lives in shared/piece_jobs.py and
shared/piece_join.py, and the reaper takes back what dead workers held
(shared/job_reaping.py).
"""
from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .job_moves import at_least, may_go, moved, set_asset, state_of, unless_canceled
from .leases import Claim, after_failure, lease_until
from .models import Asset, RenderJob, utcnow
from .states import ACTIVE, PENDING, Beat, JobState


def claim(session: Session, job_id: str, worker_id: str, lease_s: float) -> Claim | None:
    """Take a queued job; None if another worker has it, or it ended or was canceled."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, may_go(JobState.RENDERING),
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
    return (RenderJob.id == claim_.job_id, RenderJob.attempt == claim_.attempt, may_go(to, frm))


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
    state = after_failure(JobState, job.attempt, retry)
    result = session.execute(
        update(RenderJob).where(*_mine(claim_, state, ACTIVE))
        .values(state=unless_canceled(state) if state == JobState.QUEUED else state,
                error=error, lease_until=None, worker_id=None,
                enqueued_at=utcnow() if state == JobState.QUEUED else RenderJob.enqueued_at,
                queued_at=utcnow() if state == JobState.QUEUED else RenderJob.queued_at)
    )
    if result.rowcount != 1:
        session.rollback()
        return Beat.LOST
    state = state_of(session, claim_.job_id)
    moved(session, claim_.job_id, state, error)
    session.commit()
    return state


def mark_canceled(session: Session, job_id: str) -> bool:
    """Cancel a job that is not running (queued), or acknowledge a running one's cancel."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.cancel_requested.is_(True),
               may_go(JobState.CANCELED))
        .values(state=JobState.CANCELED, lease_until=None)
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    moved(session, job_id, JobState.CANCELED)
    session.commit()
    return True


def request_cancel(session: Session, job_id: str) -> JobState:
    """Ask for a cancel: a job no attempt holds (waiting, queued, or a render in pieces whose
    pieces are out) ends now; a running one when its attempt next looks, and at the latest
    when it would finalize, which a cancel refuses, even during the upload. A finished job
    is left as it is: its state says so."""
    session.execute(
        update(RenderJob).where(RenderJob.id == job_id, may_go(JobState.CANCELED))
        .values(cancel_requested=True)
    )
    ended = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.lease_until.is_(None),
               may_go(JobState.CANCELED, {*PENDING, JobState.RENDERING}))
        .values(state=JobState.CANCELED)
    ).rowcount == 1
    state = state_of(session, job_id)
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
