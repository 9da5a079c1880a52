"""What every render attempt uses, whichever task runs it: a whole render, a piece, a join.

`JobAttempt` is one attempt at a claimed job: `take` claims it, `go` runs it (a failure
ends it, retried or not), and between the two it may `start_upload`, `store` its output,
`finalize`, `stop` on its lease's answer, or `end` (failed: requeued or not). The whole
render's attempt (worker/tasks/render.py), the piece's and the join's
(worker/tasks/render_pieces.py) build on it.
Around it: the job's `Work` read from the database (`load`), its sources fetched into the
machine's cache (`local_sources`), the output stored (`upload`), a render's pieces
removed once it ended (`remove_pieces`), and who this process is (`worker_id`).

Nothing here imports the Celery app: the tasks build on this module and the reaper uses it.
An attempt sends its follow-up tasks through its class's `celery`, which the task modules set.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from celery import current_task
from celery.exceptions import SoftTimeLimitExceeded

from shared import jobs, keys, leases
from shared.edit import VideoEdit, parse_edit
from shared.edit_sources import MediaKind, SourceInfo
from shared.models import Asset, RenderJob
from shared.queue import RENDER_TASK, send
from shared.sources import resolve, source_info
from shared.states import Beat, JobState
from worker.media.probe import probe
from worker.render import RenderError, RenderResult

from . import context
from .cache import SourceCache, SourceChanged
from .lease import Lease
from .steplog import StepLog

log = logging.getLogger(__name__)

CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
# Each try is itself retried by the S3 client; past these the job fails (no re-render).
UPLOAD_TRIES = 3

Sources = dict[str, tuple[str, str | None]]  # source id → (storage key, sha256)


class SourceGone(Exception):
    """A source was deleted after the edit was accepted."""


class UploadFailed(Exception):
    """The store refused or could not be reached, after retries."""


class JobDeleted(Exception):
    """The job was deleted (with its asset or project) while the attempt ran."""


# Failures written for the user: the job fails with their message, without another attempt.
FINAL = (RenderError, SourceGone, SourceChanged, UploadFailed, SoftTimeLimitExceeded)
# Why an attempt stopped without ending the job itself.
STOPPED = {Beat.LOST: "lost its lease; another attempt owns the job",
           Beat.DELETED: "the job was deleted (its asset or project was); stopped"}


@dataclass
class Work:
    """What one attempt needs, read from the database before rendering starts."""

    edit: VideoEdit
    sources: Sources
    output_key: str
    filename: str
    queue: str
    plan: dict | None  # written by the first attempt of a render in pieces
    infos: dict[str, SourceInfo]  # what the sources' analyses found
    owner_id: str = ""  # whose render: its render-cache entries are theirs alone
    # Each video source's keyframes (source times) as its analysis found them, where known.
    keyframes: dict[str, list[Fraction]] = field(default_factory=dict)


def worker_id() -> str:
    """Who holds a lease, as jobs and pieces record it: the Celery node name (the name the
    farm page lists workers by), a colon, and this pool process's id."""
    node = current_task.request.hostname if current_task else None
    return f"{node or socket.gethostname()}:{os.getpid()}"


class JobAttempt:
    """One attempt at a claimed job. A subclass says how it is claimed (`claim_with`), what
    it does (`run`), and through which app its follow-up tasks go (`celery`)."""

    celery = None  # the Celery app of the task module that defines the attempt
    life = jobs  # the module whose compare-and-sets move the attempt's row
    claim_with = staticmethod(jobs.claim)  # (session, *target, worker id, lease s) → claim

    def __init__(self, claim: leases.Claim):
        self.claim = claim
        self.settings = context.settings()
        self.lease = Lease(claim)
        self.steps = StepLog(claim.job_id, claim.attempt)

    @classmethod
    def take(cls, *target) -> JobAttempt | None:
        """Claim `target` for this process: the attempt, or None when another process has it
        or it ended (a duplicate or late message)."""
        worker = worker_id()
        with context.db().session() as session:
            claim = cls.claim_with(session, *target, worker, context.settings().lease_seconds)
        if claim is None:
            return None
        attempt = cls(claim)
        attempt.steps.step("claimed", worker=worker)
        return attempt

    def go(self) -> str:
        """Run the attempt; a failure ends it, retried or not. Its outcome, logged."""
        try:
            outcome = self.run()
        except JobDeleted:
            outcome = STOPPED[Beat.DELETED]
        except FINAL as exc:
            outcome = self.end(_reason(exc), retry=False)
        except Exception as exc:  # an unexpected crash: another attempt may succeed
            log.exception("%s crashed", self)
            outcome = self.end(_reason(exc), retry=True)
        self.steps.step("finished", outcome=outcome)
        return outcome

    def run(self) -> str:
        raise NotImplementedError

    def start_upload(self) -> bool:
        """Rendered: move to uploading, under the lease; False if it may not (the lease's
        answer then says why)."""
        with context.db().session() as session:
            if self.life.start_upload(session, self.claim, self.settings.lease_seconds):
                self.lease.uploading()
                return True
            self.lease.answer = self.life.standing(session, self.claim)
            return False

    def store(self, work: Work, output: str) -> tuple[int, dict]:
        """Upload the output under the lease: its stored size, and its stream facts as the
        media probe finds them in an uploaded file (recorded at the finish, they make a
        finished render at once a source that other edits may render from)."""
        facts = probe(output).columns()
        with self.lease.kept():
            size = upload(work.output_key, output, work.edit.video_output_format)
        self.steps.step("uploaded", bytes=size)
        return size, facts

    def finalize(self, work: Work, result: RenderResult, size: int,
                 facts: dict | None = None) -> str:
        """The output is stored: the job is uploaded, unless its lease said stop meanwhile."""
        width, height = work.edit.output_size  # a preview's is half the resolution asked
        media = {**(facts or {}), "duration": result.duration, "width": width,
                 "height": height, "media_kind": MediaKind.VIDEO,
                 "content_type": CONTENT_TYPES[work.edit.video_output_format],
                 "warnings": list(result.warnings)}
        media.pop("size", None)  # the stored object's, given apart
        if result.copied:  # a render in one piece that copied frames (render_whole)
            media.update(pieces_total=result.pieces, pieces_done=result.pieces,
                         pieces_copied=result.copied)
        with context.db().session() as session:
            if jobs.finalize(session, self.claim, work.output_key, size, **media):
                return JobState.UPLOADED
            self.lease.answer = jobs.standing(session, self.claim)  # why not
        context.storage().delete(work.output_key)  # never finalized: nobody links to it
        return self.stop()

    def stop(self) -> str:
        """End the attempt on its lease's answer: canceled, lost, or deleted. A cancel ends
        the job (acknowledged first, `acknowledge_cancel`) and removes its stored pieces."""
        if self.lease.answer != Beat.CANCELED:
            return STOPPED.get(self.lease.answer, STOPPED[Beat.LOST])
        with context.db().session() as session:
            self.acknowledge_cancel(session)
            jobs.mark_canceled(session, self.claim.job_id)
        remove_pieces(self.claim.job_id)
        return JobState.CANCELED

    def acknowledge_cancel(self, session) -> None:
        """What this attempt's row records of a cancel before its job is marked canceled."""

    def end(self, reason: str, retry: bool) -> str:
        """The attempt failed: requeue or fail the job, and remove what the attempt stored."""
        with context.db().session() as session:
            job = session.get(RenderJob, self.claim.job_id)
            asset = job and session.get(Asset, job.asset_id)
            folder = asset and keys.attempt_folder(asset, self.claim.attempt)
            state = jobs.fail(session, self.claim, reason, retry=retry)
            queue = job.queue if job is not None else None
        if state == Beat.DELETED:
            return STOPPED[Beat.DELETED]  # its folder went with its asset
        if folder and state != Beat.LOST:  # lost: a newer attempt's job, not this one's to tidy
            delete_prefix(folder)  # what this attempt may have stored (never finalized)
            if state == JobState.FAILED:
                remove_pieces(self.claim.job_id)
        if state == JobState.QUEUED:
            send(self.celery, RENDER_TASK, [self.claim.job_id], queue)
        return f"{state}: {reason}"


def load(claim: leases.Claim) -> Work:
    with context.db().session() as session:
        job = session.get(RenderJob, claim.job_id)
        if job is None:
            raise JobDeleted(claim.job_id)
        asset = session.get(Asset, job.asset_id)
        edit, rows = read_sources(session, job)
        return Work(edit=edit, sources={i: (r.storage_key, r.sha256) for i, r in rows.items()},
                    output_key=keys.attempt_folder(asset, claim.attempt) + asset.filename,
                    filename=asset.filename, queue=job.queue, plan=job.plan,
                    infos={i: source_info(r) for i, r in rows.items()}, owner_id=job.owner_id,
                    keyframes={i: [Fraction(t) for t in r.keyframes]
                               for i, r in rows.items() if r.keyframes})


def read_sources(session, job: RenderJob) -> tuple[VideoEdit, dict]:
    """The job's edit, and the analysed media row of each of its sources."""
    edit, _ = parse_edit(job.edit_data)
    rows = resolve(session, job.owner_id, edit)
    missing = set(edit.source_ids()) - set(rows)
    if missing:
        raise SourceGone(f"source {sorted(missing)[0]} was deleted or is no longer analysed")
    return edit, rows


def local_sources(job_id: str, wanted: Sources, stopped: Callable[[], bool],
                  reloaded: Callable[[], None] = lambda: None) -> dict[str, str] | None:
    """Local copies of the job's sources `wanted` (from this machine's cache), or None once
    `stopped()`; a source analysed again since it was read is read again (`reloaded()` is
    called then: what was planned from the former analysis no longer holds)."""
    def reload() -> Sources:
        reloaded()
        with context.db().session() as session:
            job = session.get(RenderJob, job_id)
            if job is None:
                raise JobDeleted(job_id)
            _, rows = read_sources(session, job)
        return {i: (r.storage_key, r.sha256) for i, r in rows.items() if i in wanted}

    cache = SourceCache(context.storage(), context.settings().cache_dir)
    return fetch_sources(cache, wanted, stopped, reload)


def fetch_sources(cache: SourceCache, sources: Sources, stopped: Callable[[], bool],
                  reload: Callable[[], Sources]) -> dict[str, str] | None:
    """Local paths of the sources, or None once `stopped()` (checked before each source).

    {id: (key, sha256)} is read again (`reload`) once if a source has changed: re-uploaded
    and analysed again since the job read it, the new bytes are good."""
    def fetch_all(pairs: Sources) -> dict[str, str] | None:
        local = {}
        for sid, (key, sha) in pairs.items():
            if stopped():
                return None
            local[sid] = fetch(cache, sid, key, sha)
        return local

    try:
        return fetch_all(sources)
    except SourceChanged:
        fresh = reload()
        if fresh == sources:
            raise  # rewritten without a new analysis
        return fetch_all(fresh)


def fetch(cache: SourceCache, source_id: str, key: str, sha256: str | None) -> str:
    try:
        return cache.path(key, sha256)
    except SourceChanged as exc:
        raise SourceChanged(f"source {source_id}: {exc}; analyse it again, then render") from exc


def upload(key: str, path: str, fmt: str) -> int:
    """Store the render, retrying a storage that is down (1 s, then 2 s later)."""
    for attempt in range(UPLOAD_TRIES):
        try:
            return context.storage().put_file(key, path, content_type=CONTENT_TYPES[fmt])
        except SoftTimeLimitExceeded:
            raise  # out of time: no retry, the job fails with that reason
        except Exception as exc:
            if attempt == UPLOAD_TRIES - 1:
                raise UploadFailed(f"could not store the render after {UPLOAD_TRIES} tries: {exc}") from exc
            log.warning("upload of %s failed (try %d), retrying", key, attempt + 1, exc_info=True)
            time.sleep(2 ** attempt)
    raise AssertionError("unreachable")


def remove_pieces(job_id: str) -> None:
    """Delete the stored pieces of a render in pieces: it ended (joined, failed or canceled)."""
    with context.db().session() as session:
        job = session.get(RenderJob, job_id)
        asset = job and job.plan is not None and session.get(Asset, job.asset_id)
        folder = asset and keys.pieces_folder(asset)
    if folder:
        delete_prefix(folder)


def delete_prefix(folder: str) -> None:
    try:
        context.storage().delete_prefix(folder)
    except Exception:  # the store may be what failed; its objects are then orphans
        log.warning("could not remove %s", folder, exc_info=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return "the render ran past its time limit"
    if isinstance(exc, FINAL):
        return str(exc)  # written for the user already
    return f"{type(exc).__name__}: {exc}"
