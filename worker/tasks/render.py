"""The render task: claim the job, then one `RenderAttempt` whose `run()` reads top to bottom.

The task takes a job id only. The database session is closed while rendering; the attempt's
`Lease` opens a short one for each heartbeat, which renews the lease, records progress and
hears cancels.
"""
from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded

from shared import jobs, keys
from shared.edit import SourceInfo, VideoEdit, parse_edit
from shared.models import Asset, RenderJob
from shared.queue import RENDER_TASK, send
from shared.sources import resolve, source_info
from shared.states import Beat, JobState
from worker.media.probe import probe
from worker.render import (RenderCanceled, RenderError, RenderResult, plan_from_infos,
                           plan_pieces, render)

from .. import context
from ..cache import SourceCache, SourceChanged
from ..celery import app
from ..lease import Lease
from ..steplog import StepLog

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
    plan: dict | None  # a chunked render's, once its first attempt wrote it
    infos: dict[str, SourceInfo]  # what the sources' analyses found


@app.task(name=RENDER_TASK, bind=True)
def render_job(self, job_id: str) -> None:
    settings = context.settings()
    worker_id = f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
    with context.db().session() as session:
        claim = jobs.claim(session, job_id, worker_id, settings.lease_seconds)
    if claim is None:
        return  # another worker has it, or it ended: a duplicate message
    attempt = RenderAttempt(claim)
    attempt.steps.step("claimed", worker=worker_id)
    attempt.steps.step("finished", outcome=run_attempt(attempt))


def run_attempt(attempt) -> str:
    """Run an attempt (of a job, a piece or a join); a failure ends it, retried or not."""
    try:
        return attempt.run()
    except JobDeleted:
        return STOPPED[Beat.DELETED]
    except FINAL as exc:
        return attempt.end(_reason(exc), retry=False)
    except Exception as exc:  # an unexpected crash: another attempt may succeed
        log.exception("%s crashed", attempt)
        return attempt.end(_reason(exc), retry=True)


class RenderAttempt:
    """One attempt at a claimed job: load, fetch, render, upload, finalize.

    A render longer than two pieces is planned here instead, and its pieces sent to any
    worker (worker/tasks/pieces.py); a later attempt of it resumes that plan.
    """

    def __init__(self, claim: jobs.Claim):
        self.claim = claim
        self.settings = context.settings()
        self.lease = Lease(claim)
        self.steps = StepLog(claim.job_id, claim.attempt)

    def __str__(self) -> str:
        return f"render {self.claim.job_id} attempt {self.claim.attempt}"

    def run(self) -> str:
        from .pieces import start_pieces  # it builds on this module

        work = load(self.claim)
        if work.plan is not None:  # an earlier attempt cut it into pieces: resume those
            return start_pieces(self, work, None)
        # Planned from the sources' analyses, so that cutting a render into pieces fetches
        # nothing here: each piece's worker fetches only what its frames show.
        timeline, warnings = plan_from_infos(work.edit, work.infos,
                                             self.settings.max_output_seconds)
        spans, notes = plan_pieces(timeline, work.edit.chunk_seconds(self.settings.chunk_seconds),
                                   work.edit.video_output_format, work.edit.encoder,
                                   contents={i: sha for i, (_, sha) in work.sources.items()})
        if len(spans) > 1:
            return start_pieces(self, work, (timeline, spans, warnings + notes))
        with self.lease.kept():
            local = self.fetch(work.sources)
        if local is None:  # canceled, or the lease was lost, while fetching
            return self.stop()
        self.steps.step("sources_fetched", sources=len(local))
        with tempfile.TemporaryDirectory(dir=scratch()) as tmp:
            output = os.path.join(tmp, work.filename)
            try:
                result = render(work.edit, local, output, on_progress=self.lease.progress,
                                should_cancel=self.lease.stopped, encoder=self.settings.encoder,
                                max_output_seconds=self.settings.max_output_seconds)
            except RenderCanceled:
                return self.stop()
            result.warnings += notes
            if self.lease.answer != Beat.OK:
                return self.stop()
            self.steps.step("rendered", output_s=result.duration)
            if not self.start_upload():
                return self.stop()
            size, facts = self.store(work, output)
            return self.finalize(work, result, size, facts)

    def fetch(self, wanted: Sources) -> dict[str, str] | None:
        """Local copies of the sources `wanted`; None once the lease says stop."""
        return local_sources(self.claim.job_id, wanted, self.lease.stopped)

    def start_upload(self) -> bool:
        with context.db().session() as session:
            if jobs.start_upload(session, self.claim, self.settings.lease_seconds):
                self.lease.uploading()
                return True
            self.lease.answer = jobs.standing(session, self.claim)  # why not
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
        width, height = work.edit.output_size  # a preview's is half the resolution asked
        media = {**(facts or {}), "duration": result.duration, "width": width,
                 "height": height, "media_kind": "video",
                 "content_type": CONTENT_TYPES[work.edit.video_output_format],
                 "warnings": list(result.warnings)}
        media.pop("size", None)  # the stored object's, given apart
        with context.db().session() as session:
            if jobs.finalize(session, self.claim, work.output_key, size, **media):
                return JobState.UPLOADED
            self.lease.answer = jobs.standing(session, self.claim)  # why not
        context.storage().delete(work.output_key)  # never finalized: nobody links to it
        return self.stop()

    def stop(self) -> str:
        """End the attempt on its lease's answer: canceled, lost, or deleted."""
        return stop_attempt(self.lease.answer, self.claim.job_id)

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
            send(app, RENDER_TASK, [self.claim.job_id], queue)
        return f"{state}: {reason}"


def stop_attempt(answer: Beat, job_id: str, acknowledge=None) -> str:
    """An attempt (of a job, a piece or a join) stops on its lease's answer. A cancel ends
    the job (`acknowledge(session)` first) and removes the pieces it stored."""
    if answer != Beat.CANCELED:
        return STOPPED.get(answer, STOPPED[Beat.LOST])
    with context.db().session() as session:
        if acknowledge is not None:
            acknowledge(session)
        jobs.mark_canceled(session, job_id)
    remove_pieces(job_id)
    return JobState.CANCELED


def load(claim: jobs.Claim) -> Work:
    with context.db().session() as session:
        job = session.get(RenderJob, claim.job_id)
        if job is None:
            raise JobDeleted(claim.job_id)
        asset = session.get(Asset, job.asset_id)
        edit, rows = read_sources(session, job)
        return Work(edit=edit, sources={i: (r.storage_key, r.sha256) for i, r in rows.items()},
                    output_key=keys.attempt_folder(asset, claim.attempt) + asset.filename,
                    filename=asset.filename, queue=job.queue, plan=job.plan,
                    infos={i: source_info(r) for i, r in rows.items()})


def read_sources(session, job: RenderJob) -> tuple[VideoEdit, dict]:
    """The job's edit, and the analysed media row of each of its sources."""
    edit, _ = parse_edit(job.edit_data)
    rows = resolve(session, job.owner_id, edit)
    missing = set(edit.source_ids()) - set(rows)
    if missing:
        raise SourceGone(f"source {sorted(missing)[0]} was deleted or is no longer analysed")
    return edit, rows


def scratch() -> str:
    """Where attempts write their files (beside the source cache: the same disk)."""
    path = os.path.join(context.settings().cache_dir, "renders")
    os.makedirs(path, exist_ok=True)
    return path


def local_sources(job_id: str, wanted: Sources, stopped: Callable[[], bool]
                  ) -> dict[str, str] | None:
    """Local copies of the job's sources `wanted` (from this machine's cache), or None once
    `stopped()`; a source analysed again since it was read is read again."""
    def reload() -> Sources:
        with context.db().session() as session:
            job = session.get(RenderJob, job_id)
            if job is None:
                raise JobDeleted(job_id)
            _, rows = read_sources(session, job)
        return {i: (r.storage_key, r.sha256) for i, r in rows.items() if i in wanted}

    cache = SourceCache(context.storage(), context.settings().cache_dir)
    return fetch_sources(cache, wanted, stopped, reload)


def remove_pieces(job_id: str) -> None:
    """Delete a chunked render's stored pieces: it ended (joined, failed or canceled)."""
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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return "the render ran past its time limit"
    if isinstance(exc, FINAL):
        return str(exc)  # written for the user already
    return f"{type(exc).__name__}: {exc}"
