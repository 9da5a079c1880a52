"""The pieces of a render in pieces: a second kind of job, with its own states and table.

A render longer than two pieces is planned once by the attempt that claims its job: one
row per piece (its output frames, or the render's sound), written in the same transaction
that releases the job's lease (`lease_until` NULL: the job waits on its pieces, no attempt
holds it). Each piece then lives by `shared.states.PIECE`: queued → rendering (claimed:
attempt + 1, a lease) → uploading → uploaded, with at most MAX_ATTEMPTS attempts, requeued
by the reaper when its lease runs out. Every move is one conditional UPDATE whose WHERE that
table builds (`_mine`, `_may_go`), as a job's is; a piece runs only while its job is
`rendering` and not canceled.

When the last piece is stored, `take_join` — a compare-and-set on the job's row that needs
every piece uploaded and no lease on the job — gives the job's lease to exactly one
process, which joins the pieces and finishes the job with `jobs.start_upload`/`finalize`.
A piece that fails for good fails its job (`jobs.moved`, as every end of a job). Progress
is frames done over all frames, and never goes back: each piece keeps the most frames any
of its attempts rendered.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, exists, func, select, tuple_, update
from sqlalchemy.orm import Session

from .jobs import MAX_ATTEMPTS, Claim, at_least, lease_clock, lease_until, moved, set_asset
from .models import Asset, RenderJob, RenderPiece, utcnow
from .states import JOB, PIECE, PIECE_ACTIVE, Beat, JobState, PieceState

# What a piece renders: output frames, or the whole render's sound (one piece, sent first,
# so that it is mixed while the frames render and the join only copies packets).
VIDEO, SOUND = "video", "sound"


@dataclass(frozen=True)
class PieceClaim:
    job_id: str
    index: int
    attempt: int


def _may_go(to: PieceState, frm: PieceState | frozenset[PieceState] | None = None):
    """WHERE the piece's state may move to `to` (from `frm` only, when given), per PIECE."""
    return PIECE.may_go(RenderPiece.state, to, frm)


def _job_running(job_id: str):
    """The job is rendering its pieces and no cancel was asked."""
    return exists().where(RenderJob.id == job_id, RenderJob.state == JobState.RENDERING,
                          RenderJob.cancel_requested.is_(False))


def _this_attempt(claim: PieceClaim):
    return (RenderPiece.job_id == claim.job_id, RenderPiece.index == claim.index,
            RenderPiece.attempt == claim.attempt)


def _mine(claim: PieceClaim, to: PieceState, frm: PieceState | frozenset[PieceState]):
    """WHERE the piece is still this attempt's, in `frm`, and may move to `to`."""
    return (*_this_attempt(claim), _may_go(to, frm))


def pieces(session: Session, job_id: str) -> list[RenderPiece]:
    """The job's pieces, in order (rows its caller may read once the session closed)."""
    return list(session.scalars(
        select(RenderPiece).where(RenderPiece.job_id == job_id).order_by(RenderPiece.index)))


def write_plan(session: Session, claim: Claim, ranges: list[tuple[int, int]],
               plan: dict, cached: list[tuple[str | None, str | None]] | None = None
               ) -> list[int] | None:
    """Store the plan (once) and release the job's lease: the indexes of the pieces to send,
    the sound's first.

    `ranges` are the video pieces' frames; one more piece renders the sound. `plan` is what
    every piece renders from (the laid-out timeline, the warnings). `cached`, per video
    piece: (its cache key, the object of the cache entry it reuses): a reused piece is
    written stored (uploaded) and never sent. A later
    attempt (its join was lost) finds the plan already written and keeps it: the pieces
    already stored are not rendered again. None if this attempt no longer owns the
    job. The caller sends the returned pieces' tasks after this commits.
    """
    released = session.execute(
        update(RenderJob)
        .where(RenderJob.id == claim.job_id, RenderJob.attempt == claim.attempt,
               RenderJob.state == JobState.RENDERING, RenderJob.cancel_requested.is_(False))
        .values(lease_until=None, worker_id=None)
    )
    if released.rowcount != 1:
        session.rollback()
        return None
    if not session.execute(select(exists().where(RenderPiece.job_id == claim.job_id))).scalar():
        session.execute(update(RenderJob).where(RenderJob.id == claim.job_id)
                        .values(plan=plan, frame_count=ranges[-1][1],
                                piece_frames=ranges[0][1] - ranges[0][0]))
        now = utcnow()
        cached = cached or [(None, None)] * len(ranges)
        session.add_all(RenderPiece(job_id=claim.job_id, index=i, frame_start=start,
                                    frame_end=end, enqueued_at=now, kind=VIDEO, cache_key=key,
                                    **(_reused(reuse, end - start) if reuse else {}))
                        for i, ((start, end), (key, reuse)) in enumerate(zip(ranges, cached)))
        session.add(RenderPiece(job_id=claim.job_id, index=len(ranges), frame_start=0,
                                frame_end=0, enqueued_at=now, kind=SOUND))
        reused = sum(1 for _, reuse in cached if reuse)
        set_asset(session, claim.job_id, pieces_total=len(ranges), pieces_done=reused,
                  pieces_reused=reused, pieces_copied=0)
    queued = session.execute(
        select(RenderPiece.index).where(RenderPiece.job_id == claim.job_id,
                                        RenderPiece.state == PieceState.QUEUED)
        .order_by((RenderPiece.kind == VIDEO), RenderPiece.index)
    ).scalars().all()
    session.commit()
    return list(queued)


def _reused(object_key: str, frames: int) -> dict:
    """A planned piece's columns when a cache entry serves it: stored, never rendered."""
    return {"state": PieceState.UPLOADED, "output_key": object_key, "reused": True,
            "frames_done": frames}


def claim_piece(session: Session, job_id: str, index: int, worker_id: str,
                lease_s: float) -> PieceClaim | None:
    """Take a queued piece of a running job; None if another worker has it or the job ended."""
    result = session.execute(
        update(RenderPiece)
        .where(RenderPiece.job_id == job_id, RenderPiece.index == index,
               _may_go(PieceState.RENDERING), _job_running(job_id))
        .values(state=PieceState.RENDERING, attempt=RenderPiece.attempt + 1,
                worker_id=worker_id, lease_until=lease_until(session, lease_s), error=None)
    )
    if result.rowcount != 1:
        session.rollback()
        return None
    attempt = session.execute(
        select(RenderPiece.attempt).where(RenderPiece.job_id == job_id, RenderPiece.index == index)
    ).scalar_one()
    session.commit()
    return PieceClaim(job_id, index, attempt)


def standing(session: Session, claim: PieceClaim) -> Beat:
    """What the piece's worker must do, read without writing: go on while the piece is this
    attempt's and its job renders; stop on a cancel, a lost piece, or a job that ended."""
    job = session.execute(
        select(RenderJob.state, RenderJob.cancel_requested).where(RenderJob.id == claim.job_id)
    ).one_or_none()
    if job is None:
        return Beat.DELETED
    if job.cancel_requested or job.state == JobState.CANCELED:
        return Beat.CANCELED
    mine = session.execute(select(exists().where(
        *_this_attempt(claim), RenderPiece.state.in_(sorted(PIECE_ACTIVE))))).scalar()
    return Beat.OK if mine and job.state == JobState.RENDERING else Beat.LOST


def heartbeat(session: Session, claim: PieceClaim, lease_s: float, frames_done: int,
              state: PieceState = PieceState.RENDERING) -> Beat:
    """Renew the piece's lease (while it is still in `state`) and record its frames; what
    the piece's worker must do next."""
    result = session.execute(
        update(RenderPiece).where(*_this_attempt(claim), RenderPiece.state == state)
        .values(lease_until=lease_until(session, lease_s),
                frames_done=at_least(RenderPiece.frames_done, frames_done))
    )
    if result.rowcount != 1:
        session.rollback()
        answer = standing(session, claim)
        session.rollback()
        return Beat.LOST if answer == Beat.OK else answer  # its phase moved on
    beat = standing(session, claim)
    if beat == Beat.OK:
        _raise_progress(session, claim.job_id)
    session.commit()
    return beat


def _raise_progress(session: Session, job_id: str) -> None:
    """The asset's progress: frames done over all frames, never lower than it was."""
    done, total = session.execute(
        select(func.coalesce(func.sum(RenderPiece.frames_done), 0), RenderJob.frame_count)
        .join(RenderJob, RenderJob.id == RenderPiece.job_id)
        .where(RenderPiece.job_id == job_id).group_by(RenderJob.frame_count)
    ).one()
    fraction = round(min(done / max(total or 1, 1), 1.0), 4)
    set_asset(session, job_id, progress=at_least(Asset.progress, fraction))


def start_upload(session: Session, claim: PieceClaim, lease_s: float) -> bool:
    """Rendered: the piece is being stored, still under its lease."""
    result = session.execute(
        update(RenderPiece)
        .where(*_mine(claim, PieceState.UPLOADING, PieceState.RENDERING),
               _job_running(claim.job_id))
        .values(state=PieceState.UPLOADING, lease_until=lease_until(session, lease_s))
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    session.commit()
    return True


def finish(session: Session, claim: PieceClaim, output_key: str, lease_s: float,
           copied: int = 0) -> bool:
    """The piece is stored at `output_key`: uploaded, unless it lost its lease or its job
    ended meanwhile (then the caller deletes the object). `copied`: its frames copied from
    a source, not encoded; the asset sums them over its pieces.

    Its lease is renewed once more: it covers the moment between this commit and the
    join's compare-and-set, so the reaper only steps in if the worker dies right there.
    """
    frames = RenderPiece.frame_end - RenderPiece.frame_start
    result = session.execute(
        update(RenderPiece)
        .where(*_mine(claim, PieceState.UPLOADED, PieceState.UPLOADING),
               _job_running(claim.job_id))
        .values(state=PieceState.UPLOADED, output_key=output_key, frames_done=frames,
                copied=copied, lease_until=lease_until(session, lease_s), error=None)
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    video = select(RenderPiece.kind == VIDEO).where(
        RenderPiece.job_id == claim.job_id, RenderPiece.index == claim.index).scalar_subquery()
    set_asset(session, claim.job_id, pieces_done=Asset.pieces_done + case((video, 1), else_=0),
              pieces_copied=Asset.pieces_copied + copied)
    _raise_progress(session, claim.job_id)
    session.commit()
    return True


def mark_canceled(session: Session, claim: PieceClaim) -> bool:
    """The piece's worker stopped on its job's cancel."""
    result = session.execute(
        update(RenderPiece).where(*_mine(claim, PieceState.CANCELED, PIECE_ACTIVE))
        .values(state=PieceState.CANCELED, lease_until=None)
    )
    session.commit()
    return result.rowcount == 1


def _all_uploaded(job_id: str):
    return ~exists().where(RenderPiece.job_id == job_id,
                           RenderPiece.state != PieceState.UPLOADED)


def take_join(session: Session, job_id: str, worker_id: str, lease_s: float) -> Claim | None:
    """The job's lease, for the one process that joins it: only when every piece is stored
    and nobody holds the job. Any number of callers may race; one wins."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.state == JobState.RENDERING,
               RenderJob.lease_until.is_(None), RenderJob.frame_count.is_not(None),
               RenderJob.cancel_requested.is_(False), _all_uploaded(job_id))
        .values(lease_until=lease_until(session, lease_s), worker_id=worker_id)
    )
    if result.rowcount != 1:
        session.rollback()
        return None
    attempt = session.execute(select(RenderJob.attempt).where(RenderJob.id == job_id)).scalar_one()
    session.commit()
    return Claim(job_id, attempt)


def refuse_reused(session: Session, claim: Claim, indexes: list[int]) -> bool:
    """The join (holding `claim`) refused these reused pieces (their cache entries were
    gone or not what was stored): each is queued to be rendered anew, and the job's lease
    released, so that the last of them stored joins again. In the caller's transaction;
    False (rolled back) if the join lost the job."""
    released = session.execute(
        update(RenderJob)
        .where(RenderJob.id == claim.job_id, RenderJob.attempt == claim.attempt,
               RenderJob.state == JobState.RENDERING, RenderJob.cancel_requested.is_(False),
               RenderJob.lease_until.is_not(None))
        .values(lease_until=None, worker_id=None))
    if released.rowcount != 1:
        session.rollback()
        return False
    session.execute(
        update(RenderPiece)
        .where(RenderPiece.job_id == claim.job_id, RenderPiece.index.in_(indexes),
               RenderPiece.reused.is_(True), _may_go(PieceState.QUEUED, PieceState.UPLOADED))
        .values(state=PieceState.QUEUED, reused=False, output_key=None, frames_done=0,
                enqueued_at=utcnow()))
    set_asset(session, claim.job_id, pieces_done=Asset.pieces_done - len(indexes),
              pieces_reused=Asset.pieces_reused - len(indexes))
    return True


def fail(session: Session, claim: PieceClaim, error: str, retry: bool) -> str:
    """End this attempt of the piece: queued again when `retry` and attempts remain, else
    failed — and its job fails with it. Returns the piece's new state, or "lost" when the
    attempt was no longer the piece's (nothing of it to tidy)."""
    attempt = session.execute(
        select(RenderPiece.attempt).where(RenderPiece.job_id == claim.job_id,
                                          RenderPiece.index == claim.index)
    ).scalar_one_or_none()
    if attempt is None:
        return "lost"  # deleted with its job
    state = PieceState.QUEUED if retry and attempt < MAX_ATTEMPTS else PieceState.FAILED
    result = session.execute(
        update(RenderPiece).where(*_mine(claim, state, PIECE_ACTIVE))
        .values(state=state, error=error[:4000], lease_until=None, worker_id=None,
                enqueued_at=utcnow())
    )
    if result.rowcount != 1:
        session.rollback()
        return "lost"
    if state == PieceState.FAILED:
        _fail_job(session, claim.job_id, f"piece {claim.index + 1} failed: {error}")
    session.commit()
    return state


def _fail_job(session: Session, job_id: str, reason: str) -> bool:
    """A piece failed for good: its job fails (only while it waits on its pieces)."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, JOB.may_go(RenderJob.state, JobState.FAILED,
                                                  JobState.RENDERING),
               RenderJob.lease_until.is_(None))
        .values(state=JobState.FAILED, error=reason[:4000])
    )
    if result.rowcount == 1:
        moved(session, job_id, JobState.FAILED, reason)
    return result.rowcount == 1


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
        final = attempt >= MAX_ATTEMPTS
        to = PieceState.FAILED if final else PieceState.QUEUED
        reason = f"worker stopped renewing its lease ({state}, attempt {attempt})"
        result = session.execute(
            update(RenderPiece)
            .where(RenderPiece.job_id == job_id, RenderPiece.index == index,
                   RenderPiece.attempt == attempt, _may_go(to, PieceState(state)),
                   RenderPiece.lease_until < clock)
            .values(state=to, error=reason, lease_until=None, worker_id=None, enqueued_at=now)
        )
        if result.rowcount != 1:
            continue
        if not final:
            out.requeued.append((job_id, index))
        elif _fail_job(session, job_id, f"piece {index + 1} failed: {reason}"):
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
               RenderJob.frame_count.is_not(None), _all_uploaded(RenderJob.id),
               ~leased_recently)
    ).all()
    reason = "the join's worker stopped before it began"
    for job_id, attempt, queue in orphans:
        final = attempt >= MAX_ATTEMPTS
        to = JobState.FAILED if final else JobState.QUEUED
        result = session.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.attempt == attempt,
                   JOB.may_go(RenderJob.state, to, JobState.RENDERING),
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
