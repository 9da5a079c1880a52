"""The job's side of a render in pieces: its plan, written once, and its join, taken once.

A render longer than two pieces is planned once by the attempt that claims its job
(`write_plan`): one row per piece (its output frames, or the render's sound), written in the
same transaction that releases the job's lease (`lease_until` NULL: the job waits on its
pieces, no attempt holds it); pieces a render-cache entry serves are written stored. The
pieces then live as jobs of their own (shared/piece_jobs.py). When the last piece is stored,
`take_join` — a compare-and-set on the job's row that needs every piece uploaded and no lease
on the job — gives the job's lease to exactly one process, which joins the pieces and
finishes the job with `jobs.start_upload`/`finalize`. A join that refuses reused pieces
queues them anew and releases the lease again (`refuse_reused`).
"""
from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from .job_moves import set_asset
from .leases import Claim, lease_until
from .models import Asset, RenderJob, RenderPiece, utcnow
from .piece_jobs import SOUND, VIDEO, job_renders, piece_may_go
from .states import PieceState


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
        .where(*job_renders(claim.job_id), RenderJob.attempt == claim.attempt)
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


def all_uploaded(job_id: str):
    """WHERE every piece of the job is stored."""
    return ~exists().where(RenderPiece.job_id == job_id,
                           RenderPiece.state != PieceState.UPLOADED)


def take_join(session: Session, job_id: str, worker_id: str, lease_s: float) -> Claim | None:
    """The job's lease, for the one process that joins it: only when every piece is stored
    and nobody holds the job. Any number of callers may race; one wins."""
    result = session.execute(
        update(RenderJob)
        .where(*job_renders(job_id), RenderJob.lease_until.is_(None),
               RenderJob.frame_count.is_not(None), all_uploaded(job_id))
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
        .where(*job_renders(claim.job_id), RenderJob.attempt == claim.attempt,
               RenderJob.lease_until.is_not(None))
        .values(lease_until=None, worker_id=None))
    if released.rowcount != 1:
        session.rollback()
        return False
    session.execute(
        update(RenderPiece)
        .where(RenderPiece.job_id == claim.job_id, RenderPiece.index.in_(indexes),
               RenderPiece.reused.is_(True), piece_may_go(PieceState.QUEUED, PieceState.UPLOADED))
        .values(state=PieceState.QUEUED, reused=False, output_key=None, frames_done=0,
                enqueued_at=utcnow()))
    set_asset(session, claim.job_id, pieces_done=Asset.pieces_done - len(indexes),
              pieces_reused=Asset.pieces_reused - len(indexes))
    return True
