"""A piece of a render in pieces: a job of its own, with its own states, table and attempts.

Once its render's plan is written (shared/piece_join.py), each piece lives by
`shared.states.PIECE`: queued → rendering (claimed: attempt + 1, a lease) → uploading →
uploaded, with at most MAX_ATTEMPTS attempts (shared/leases.py), queued again by the reaper
when its lease runs out (shared/piece_reaping.py). Every move is one conditional UPDATE
whose WHERE that table builds (`piece_may_go`), as a job's is; a piece runs only while its
job renders its pieces (`job_renders`: rendering, no cancel asked). A piece that fails for
good fails its job (`fail_job`, through `job_moves.moved`, as every end of a job). Progress
is frames done over all frames, and never goes back: each piece keeps the most frames any
of its attempts rendered.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session

from .job_moves import at_least, may_go, moved, set_asset
from .leases import after_failure, lease_until
from .models import Asset, RenderJob, RenderPiece, utcnow
from .states import PIECE, PIECE_ACTIVE, Beat, JobState, PieceState

# What a piece renders: output frames, or the whole render's sound (one piece, sent first,
# so that it is mixed while the frames render and the join only copies packets).
VIDEO, SOUND = "video", "sound"


@dataclass(frozen=True)
class PieceClaim:
    job_id: str
    index: int
    attempt: int


def piece_may_go(to: PieceState, frm: PieceState | frozenset[PieceState] | None = None):
    """WHERE the piece's state may move to `to` (from `frm` only, when given), per PIECE."""
    return PIECE.may_go(RenderPiece.state, to, frm)


def job_renders(job_id):
    """WHERE the job renders its pieces: rendering, and no cancel asked (its pieces run,
    its plan may be written, its join taken)."""
    return (RenderJob.id == job_id, RenderJob.state == JobState.RENDERING,
            RenderJob.cancel_requested.is_(False))


def _job_running(job_id: str):
    return exists().where(*job_renders(job_id))


def _this_attempt(claim: PieceClaim):
    return (RenderPiece.job_id == claim.job_id, RenderPiece.index == claim.index,
            RenderPiece.attempt == claim.attempt)


def _mine(claim: PieceClaim, to: PieceState, frm: PieceState | frozenset[PieceState]):
    """WHERE the piece is still this attempt's, in `frm`, and may move to `to`."""
    return (*_this_attempt(claim), piece_may_go(to, frm))


def claim_piece(session: Session, job_id: str, index: int, worker_id: str,
                lease_s: float) -> PieceClaim | None:
    """Take a queued piece of a running job; None if another worker has it or the job ended."""
    result = session.execute(
        update(RenderPiece)
        .where(RenderPiece.job_id == job_id, RenderPiece.index == index,
               piece_may_go(PieceState.RENDERING), _job_running(job_id))
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


def fail(session: Session, claim: PieceClaim, error: str, retry: bool) -> PieceState | Beat:
    """End this attempt of the piece: queued again when `retry` and attempts remain, else
    failed — and its job fails with it. Returns the piece's new state, or Beat.LOST when the
    attempt was no longer the piece's (nothing of it to tidy)."""
    attempt = session.execute(
        select(RenderPiece.attempt).where(RenderPiece.job_id == claim.job_id,
                                          RenderPiece.index == claim.index)
    ).scalar_one_or_none()
    if attempt is None:
        return Beat.LOST  # deleted with its job
    state = after_failure(PieceState, attempt, retry)
    result = session.execute(
        update(RenderPiece).where(*_mine(claim, state, PIECE_ACTIVE))
        .values(state=state, error=error, lease_until=None, worker_id=None,
                enqueued_at=utcnow())
    )
    if result.rowcount != 1:
        session.rollback()
        return Beat.LOST
    if state == PieceState.FAILED:
        fail_job(session, claim.job_id, claim.index, error)
    session.commit()
    return state


def fail_job(session: Session, job_id: str, index: int, error: str) -> bool:
    """Piece `index` failed for good with `error`: its job fails (only while it waits on its
    pieces), naming the piece."""
    reason = f"piece {index + 1} failed: {error}"
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, may_go(JobState.FAILED, JobState.RENDERING),
               RenderJob.lease_until.is_(None))
        .values(state=JobState.FAILED, error=reason)
    )
    if result.rowcount == 1:
        moved(session, job_id, JobState.FAILED, reason)
    return result.rowcount == 1
