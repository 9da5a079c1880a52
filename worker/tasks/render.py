"""The render task: claim the job, fetch sources, render, upload, finalize — each step checked.

The task takes a job id only. The database session is closed while rendering; short ones
are opened for each heartbeat, which renews the lease, records progress and sees cancels.
"""
from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded

from shared import jobs
from shared.edit import parse_edit
from shared.models import Asset, RenderJob
from shared.queue import RENDER_TASK, send
from shared.sources import resolve
from worker.render import RenderCanceled, RenderError, render

from .. import context
from ..cache import SourceCache, SourceChanged
from ..celery import app

log = logging.getLogger(__name__)

CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
# Each try is itself retried by the S3 client; past these the job fails (no re-render).
UPLOAD_TRIES = 3


class SourceGone(Exception):
    """A source was deleted after the edit was accepted."""


@dataclass
class Work:
    """What one attempt needs, read from the database before rendering starts."""

    edit: object
    sources: dict[str, tuple[str, str | None]]  # id → (storage key, sha256)
    output_key: str
    filename: str


@app.task(name=RENDER_TASK, bind=True)
def render_job(self, job_id: str) -> None:
    settings = context.settings()
    worker_id = f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
    with context.db().session() as session:
        claim = jobs.claim(session, job_id, worker_id, settings.lease_seconds)
    if claim is None:
        return  # another worker has it, or it ended: a duplicate message
    try:
        outcome = run(claim)
    except (RenderError, SourceGone, SourceChanged, UploadFailed, SoftTimeLimitExceeded) as exc:
        outcome = _end(claim, _reason(exc), retry=False)
    except Exception as exc:  # an unexpected crash: another attempt may succeed
        log.exception("render %s attempt %s crashed", job_id, claim.attempt)
        outcome = _end(claim, _reason(exc), retry=True)
    log.info("render %s attempt %s: %s", job_id, claim.attempt, outcome)


def run(claim: jobs.Claim) -> str:
    work = load(claim)
    settings = context.settings()
    cache = SourceCache(context.storage(), settings.cache_dir)
    with LeaseKeeper(claim, "rendering") as keeper:
        local = fetch_sources(claim, cache, work.sources, keeper.stopped)
    if local is None:  # canceled, or the lease was lost, while fetching
        return _stop(claim, keeper.answer)
    beat = Heartbeat(claim)
    out_dir = os.path.join(settings.cache_dir, "renders")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        output = os.path.join(tmp, work.filename)
        try:
            result = render(work.edit, local, output, on_progress=beat.progress,
                            should_cancel=beat.stopped, encoder=settings.encoder,
                            max_output_seconds=settings.max_output_seconds)
        except RenderCanceled:
            return _stop(claim, beat.state)
        if beat.state != "ok":
            return _stop(claim, beat.state)
        with context.db().session() as session:
            if not jobs.start_upload(session, claim, settings.lease_seconds):
                canceled = jobs.mark_canceled(session, claim.job_id)
                return "canceled" if canceled else "lost its lease before the upload"
        with LeaseKeeper(claim, "uploading"):
            size = upload(work.output_key, output, work.edit.video_output_format)
        media = dict(duration=result.duration, width=work.edit.width, height=work.edit.height,
                     content_type=CONTENT_TYPES[work.edit.video_output_format], media_kind="video",
                     warnings=list(result.warnings))
        with context.db().session() as session:
            if jobs.finalize(session, claim, work.output_key, size, **media):
                return "uploaded"
        context.storage().delete(work.output_key)  # a newer attempt owns the job now
        return "lost its lease during the upload; its object was removed"


def fetch_sources(claim: jobs.Claim, cache: SourceCache,
                  sources: dict[str, tuple[str, str | None]],
                  stopped: Callable[[], bool]) -> dict[str, str] | None:
    """Local paths of the sources, or None once `stopped()` (checked before each source).

    {id: (key, sha256)} is read again once if a source has changed: re-uploaded and
    analysed again since the job read it, the new bytes are good."""
    def fetch_all(pairs) -> dict[str, str] | None:
        local = {}
        for sid, (key, sha) in pairs.items():
            if stopped():
                return None
            local[sid] = fetch(cache, sid, key, sha)
        return local

    try:
        return fetch_all(sources)
    except SourceChanged:
        fresh = load(claim).sources
        if fresh == sources:
            raise  # rewritten without a new analysis
        return fetch_all(fresh)


def fetch(cache: SourceCache, source_id: str, key: str, sha256: str | None) -> str:
    try:
        return cache.path(key, sha256)
    except SourceChanged as exc:
        raise SourceChanged(f"source {source_id}: {exc}; analyse it again, then render") from exc


def load(claim: jobs.Claim) -> Work:
    with context.db().session() as session:
        job = session.get(RenderJob, claim.job_id)
        asset = session.get(Asset, job.asset_id)
        edit, _ = parse_edit(job.edit_data)
        rows = resolve(session, job.owner_id, edit)
        missing = ({c.video_id for c in edit.video_series_sequential}
                   | {o.audio_id for o in edit.audio_overlay}) - set(rows)
        if missing:
            raise SourceGone(f"source {sorted(missing)[0]} was deleted or is no longer analysed")
        key = _attempt_prefix(asset, claim.attempt) + asset.filename
        return Work(edit=edit, sources={i: (r.storage_key, r.sha256) for i, r in rows.items()},
                    output_key=key, filename=asset.filename)


class UploadFailed(Exception):
    """The store refused or could not be reached, after retries."""


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


class Heartbeat:
    """The render's callbacks: they renew the lease and see a cancel or a lost lease."""

    def __init__(self, claim: jobs.Claim):
        self.claim = claim
        self.state = "ok"
        self.fraction = 0.0
        self.last = time.monotonic()
        self.settings = context.settings()

    def progress(self, done: int, total: int) -> None:
        self.fraction = done / max(total, 1)
        self._beat()

    def stopped(self) -> bool:
        self._beat()
        return self.state != "ok"

    def _beat(self) -> None:
        # At most one short database write per heartbeat interval, however often we're called.
        now = time.monotonic()
        if now - self.last < self.settings.heartbeat_seconds:
            return
        self.last = now
        with context.db().session() as session:
            self.state = jobs.heartbeat(session, self.claim, self.settings.lease_seconds,
                                        self.fraction)


class LeaseKeeper(threading.Thread):
    """Renews the lease from a thread while one long call runs (fetching sources, uploading)."""

    def __init__(self, claim: jobs.Claim, state: str):
        super().__init__(daemon=True)
        self.claim = claim
        self.state = state
        self.answer = "ok"  # the last heartbeat's: ok, canceled or lost
        self.done = threading.Event()

    def stopped(self) -> bool:
        return self.answer != "ok"

    def run(self) -> None:
        settings = context.settings()
        progress = 1.0 if self.state == "uploading" else 0.0
        while not self.done.wait(max(0.5, settings.lease_seconds / 4)):
            try:
                with context.db().session() as session:
                    self.answer = jobs.heartbeat(session, self.claim, settings.lease_seconds,
                                                 progress, state=self.state)
            except Exception:  # a database blip: the next round renews the lease
                log.warning("lease renewal of %s failed", self.claim.job_id, exc_info=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_exc):
        self.done.set()
        self.join()


def _stop(claim: jobs.Claim, state: str) -> str:
    if state == "canceled":
        with context.db().session() as session:
            jobs.mark_canceled(session, claim.job_id)
        return "canceled"
    return "lost its lease; another attempt owns the job"


def _end(claim: jobs.Claim, reason: str, retry: bool) -> str:
    with context.db().session() as session:
        job = session.get(RenderJob, claim.job_id)
        asset = job and session.get(Asset, job.asset_id)
        prefix = asset and _attempt_prefix(asset, claim.attempt)  # None: deleted with its objects
        state = jobs.fail(session, claim, reason, retry=retry)
        queue = job.queue if job is not None else None
    if prefix is not None and state != "lost":  # "lost": not this attempt's job to tidy
        try:  # what this attempt may have stored before it failed (never finalized)
            context.storage().delete_prefix(prefix)
        except Exception:  # the store may be what failed; its objects are then orphans
            log.warning("could not remove %s", prefix, exc_info=True)
    if state == "queued":
        send(app, RENDER_TASK, [claim.job_id], queue)
    return f"{state}: {reason}"


def _attempt_prefix(asset: Asset, attempt: int) -> str:
    """Where an attempt stores its render: its own folder, so attempts never collide."""
    return f"{asset.owner_id}/{asset.project_id}/{asset.id}/attempt-{attempt}/"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return "the render ran past its time limit"
    if isinstance(exc, (RenderError, SourceGone, SourceChanged, UploadFailed)):
        return str(exc)  # written for the user already
    return f"{type(exc).__name__}: {exc}"
