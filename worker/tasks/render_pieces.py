"""A render in pieces on the farm: the plan, one task per piece, and the one join.

    render task (RenderAttempt): plan → pieces written, the job's lease released
    piece task × N (PieceAttempt): claim, fetch only its sources, render, store
    the last piece stored → take_join (compare-and-set) → JoinAttempt:
        the sound once, the pieces' packets joined without re-encoding, upload, finalize

Every piece is a job of its own (shared/piece_jobs.py): any worker takes it, a dead worker's
piece is requeued by the reaper, and only that piece is rendered again. The join holds the
job's lease as any render attempt does, so a join that dies is retried by the job's next
attempt, which finds every piece stored and joins at once. Both attempts build on
worker/attempt.py's `JobAttempt`.
"""
from __future__ import annotations

import os
import tempfile

from shared import jobs, keys, leases, piece_jobs, piece_join
from shared.models import Asset, RenderJob, RenderPiece
from shared.queue import PIECE_TASK, send
from shared.states import Beat, JobState, PieceState
from shared.storage import ObjectNotFound
from worker.render import (PieceMismatchError, PieceSpan, RenderCanceled, RenderResult, join,
                           piece_codec, piece_container, render_audio, render_piece,
                           sound_sources, sources_for, timeline_from_dict, timeline_to_dict)

from .. import context, hold, piece_cache
from ..attempt import JobAttempt, JobDeleted, Work, load, local_sources, remove_pieces, upload
from ..celery import app
from ..lease import PieceLease
from ..steplog import StepLog


def start_pieces(attempt: JobAttempt, work: Work, fresh, output: str | None = None) -> str:
    """Write the plan (`fresh` = (timeline, spans, warnings); None: an earlier attempt wrote
    it; `output`: the output's render-cache key, kept in the plan for the join), release
    the job's lease, send the pieces not stored yet, and join at once when
    every piece is stored already (the earlier attempt's join was lost)."""
    job_id = attempt.claim.job_id
    cached, doomed = None, []  # per piece (cache key, reused object); entries found wrong
    with context.db().session() as session:
        if fresh is None:
            stored = piece_join.pieces(session, job_id)
            ranges, plan = [(p.frame_start, p.frame_end) for p in stored], {}
        else:
            timeline, spans, warnings = fresh
            ranges = [(span.start, span.end) for span in spans]
            plan = {"timeline": timeline_to_dict(timeline), "warnings": warnings,
                    "output_key": output}
            cached, doomed = piece_cache.plan(session, work.owner_id, work, timeline, spans)
        to_send = piece_join.write_plan(session, attempt.claim, ranges, plan, cached)
        if to_send is None:
            attempt.lease.answer = jobs.standing(session, attempt.claim)
    for key in doomed:  # their rows are gone
        piece_cache.delete_object(key)
    if to_send is None:
        return attempt.stop()
    for index in to_send:
        send(app, PIECE_TASK, [job_id, index], work.queue)
    if to_send:
        return f"cut into {len(ranges)} pieces; sent {len(to_send)}"
    return try_join(job_id) or "every piece is stored; another process joins them"


def try_join(job_id: str) -> str | None:
    """Join the render if this process wins the join's compare-and-set; None if it did not
    (a piece is missing, or another process joins)."""
    attempt = JoinAttempt.take(job_id)
    return attempt.go() if attempt is not None else None


def span_of(piece: RenderPiece) -> PieceSpan:
    """A stored piece's frames, as the render engine cuts and joins them."""
    return PieceSpan(piece.index, piece.frame_start, piece.frame_end)


@app.task(name=PIECE_TASK)
def render_piece_task(job_id: str, index: int) -> None:
    attempt = PieceAttempt.take(job_id, index)
    if attempt is None:
        return  # another worker has it, or its job ended: a duplicate or late message
    attempt.go()
    if attempt.stored:
        try_join(job_id)  # when this piece was the last one; the join logs its own steps


class PieceAttempt(JobAttempt):
    """One attempt at a claimed piece: fetch its own sources, render its frames (or the
    render's sound), store them."""

    celery = app
    life = piece_jobs
    claim_with = staticmethod(piece_jobs.claim_piece)

    def __init__(self, claim: piece_jobs.PieceClaim):
        self.claim = claim
        self.settings = context.settings()
        self.lease = PieceLease(claim)
        self.steps = StepLog(claim.job_id, claim.attempt, piece=claim.index)
        self.stored = False

    def __str__(self) -> str:
        return f"render {self.claim.job_id} piece {self.claim.index} attempt {self.claim.attempt}"

    def run(self) -> str:
        work, piece, key = self.load()
        timeline = timeline_from_dict(work.plan["timeline"])
        span = span_of(piece)
        sound = piece.kind == piece_jobs.SOUND
        needed = sound_sources(timeline) if sound else sources_for(timeline, span)
        with self.lease.kept():
            local = local_sources(self.claim.job_id, {sid: work.sources[sid] for sid in needed},
                                  self.lease.stopped)
        if local is None:
            return self.stop()
        self.steps.step("sources_fetched", sources=len(local))
        fmt = piece_container(work.edit.video_output_format, sound)
        with tempfile.TemporaryDirectory(dir=context.scratch()) as tmp:
            output = os.path.join(tmp, f"piece.{fmt}")
            copied = {}  # a video piece's frames copied from its sources (piece_copy.py)
            try:
                if sound:
                    render_audio(work.edit, local, output, timeline=timeline,
                                 should_cancel=self.lease.stopped)
                else:
                    result = render_piece(work.edit, local, span, output, timeline=timeline,
                                          on_progress=self.lease.progress,
                                          should_cancel=self.lease.stopped)
                    copied = {"copied": result.copied,
                              **({"note": result.note} if result.note else {})}
            except RenderCanceled:
                return self.stop()
            if self.lease.answer != Beat.OK:
                return self.stop()
            self.steps.step("rendered", frames=span.end - span.start, **copied)
            if not self.start_upload():
                return self.stop()
            with self.lease.kept():
                size = upload(key, output, fmt)
            self.steps.step("uploaded", bytes=size)
        return self.finish(key, copied.get("copied", 0))

    def load(self) -> tuple[Work, RenderPiece, str]:
        """The job's work, this piece, and where this attempt stores it."""
        with context.db().session() as session:
            job = session.get(RenderJob, self.claim.job_id)
            piece = session.get(RenderPiece, (self.claim.job_id, self.claim.index))
            if job is None or piece is None:
                raise JobDeleted(self.claim.job_id)
            job_claim = leases.Claim(job.id, job.attempt)
            asset = session.get(Asset, job.asset_id)
            work = load(job_claim)
            ext = piece_container(work.edit.video_output_format, piece.kind == piece_jobs.SOUND)
            key = keys.piece_key(asset, piece.index, self.claim.attempt, ext)
        return work, piece, key

    def finish(self, key: str, copied: int) -> str:
        """The piece is stored at `key`: uploaded, unless its job ended or another attempt
        took it meanwhile (the object is then removed)."""
        with context.db().session() as session:
            self.stored = piece_jobs.finish(session, self.claim, key,
                                            self.settings.lease_seconds, copied)
        if not self.stored:
            context.storage().delete(key)
            return "stored too late (its job ended or another attempt took it); removed"
        return PieceState.UPLOADED

    def acknowledge_cancel(self, session) -> None:
        piece_jobs.mark_canceled(session, self.claim)

    def end(self, reason: str, retry: bool) -> str:
        """The piece's attempt failed: requeue the piece, or fail it and its job."""
        with context.db().session() as session:
            state = piece_jobs.fail(session, self.claim, reason, retry=retry)
            job = session.get(RenderJob, self.claim.job_id)
            queue = job.queue if job is not None else None
        if state == PieceState.QUEUED:
            send(app, PIECE_TASK, [self.claim.job_id, self.claim.index], queue)
        elif state == PieceState.FAILED:
            remove_pieces(self.claim.job_id)  # a failed render's pieces
        return f"{state}: {reason}"


class JoinAttempt(JobAttempt):
    """The job's attempt that joins its stored pieces: the video pieces' packets and the
    sound piece's copied into the output, then stored and finalized as any render's."""

    celery = app
    claim_with = staticmethod(piece_join.take_join)

    def __init__(self, claim: leases.Claim):
        super().__init__(claim)
        self.steps = StepLog(claim.job_id, claim.attempt, stage="join")

    def __str__(self) -> str:
        return f"join of render {self.claim.job_id} (attempt {self.claim.attempt})"

    def run(self) -> str:
        work = load(self.claim)
        self.lease.fraction = 1.0  # every frame is rendered: progress stays where it is
        timeline = timeline_from_dict(work.plan["timeline"])
        with context.db().session() as session:
            stored = piece_join.pieces(session, self.claim.job_id)
        video = [p for p in stored if p.kind == piece_jobs.VIDEO]
        sound = next(p for p in stored if p.kind == piece_jobs.SOUND)
        fmt = work.edit.video_output_format
        with tempfile.TemporaryDirectory(dir=context.scratch()) as tmp:
            with self.lease.kept():
                paths = [self.download(piece, tmp) for piece in [*video, sound]]
            hold.wait(self.lease, hold.JOIN)  # a test's hold (worker/hold.py), if armed
            if self.lease.answer != Beat.OK:
                return self.stop()
            self.steps.step("pieces_fetched", pieces=len(paths))
            reused = [(p, path) for p, path in zip(video, paths) if p.reused]
            bad = piece_cache.refused(work.owner_id, *zip(*reused)) if reused else []
            if bad:
                return self.refuse(work.owner_id, bad, work.queue)
            output = os.path.join(tmp, work.filename)
            spans = [span_of(p) for p in video]
            try:
                joined = join(paths[:-1], spans, paths[-1], output, fmt, timeline.fps)
            except PieceMismatchError:
                if not reused:
                    raise
                return self.refuse(work.owner_id, [p for p, _ in reused], work.queue)
            if self.lease.answer != Beat.OK:
                return self.stop()
            self.steps.step("rendered", frames=joined.frames, reused=len(reused))
            with self.lease.kept():
                kept = piece_cache.keep(work.owner_id, work, video, paths[:-1])
            if kept:
                self.steps.step("cached", pieces=kept)
            if not self.start_upload():
                return self.stop()
            size, facts = self.store(work, output)
            samples = timeline.sample_count  # the sound piece wrote exactly these
            result = RenderResult(output, joined.frames, samples, samples / timeline.sample_rate,
                                  piece_codec(work.edit.video_output_format),
                                  list(work.plan.get("warnings", [])))
            outcome = self.finalize(work, result, size, facts)
            if outcome == JobState.UPLOADED and work.plan.get("output_key"):
                piece_cache.keep_output(work, work.plan["output_key"], output, result, facts)
        if outcome == JobState.UPLOADED:
            remove_pieces(self.claim.job_id)  # joined: the pieces have served
        return outcome

    def download(self, piece: RenderPiece, folder: str) -> str | None:
        """The stored piece, local; None for a reused piece whose entry's object is gone
        (the join then refuses it)."""
        path = os.path.join(folder, f"{piece.index:04d}-{os.path.basename(piece.output_key)}")
        try:
            context.storage().download_to(piece.output_key, path)
        except ObjectNotFound:
            if not piece.reused:
                raise
            return None
        return path

    def refuse(self, owner_id: str, pieces: list, queue: str) -> str:
        """Reused pieces the join may not use: their entries evicted, the pieces queued to
        render anew, and the job left to the join that follows the last of them."""
        with context.db().session() as session:
            if not piece_join.refuse_reused(session, self.claim, [p.index for p in pieces]):
                self.lease.answer = jobs.standing(session, self.claim)
                session.rollback()
                return self.stop()
            doomed = piece_cache.evict_refused(session, owner_id, pieces)
            session.commit()
        for key in doomed:
            piece_cache.delete_object(key)
        for piece in pieces:
            send(app, PIECE_TASK, [self.claim.job_id, piece.index], queue)
        self.steps.step("refused", pieces=[p.index for p in pieces])
        return f"refused {len(pieces)} cached pieces; rendering them anew"
