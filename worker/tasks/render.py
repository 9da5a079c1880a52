"""The render task: claim the job, then one `RenderAttempt` whose `run()` reads top to bottom.

The task takes a job id only. The database session is closed while rendering; the attempt's
`Lease` opens a short one for each heartbeat, which renews the lease, records progress and
hears cancels. What every attempt shares is worker/attempt.py's `JobAttempt`.
"""
from __future__ import annotations

import os
import tempfile

from shared.queue import RENDER_TASK
from shared.states import Beat, JobState
from worker.render import RenderCanceled, plan_from_infos, plan_pieces, render_whole

from .. import context, piece_cache
from ..attempt import JobAttempt, load, local_sources
from ..celery import app
from .render_pieces import start_pieces


@app.task(name=RENDER_TASK)
def render_job(job_id: str) -> None:
    attempt = RenderAttempt.take(job_id)
    if attempt is not None:  # None: another worker has it, or it ended (a duplicate message)
        attempt.go()


class RenderAttempt(JobAttempt):
    """One attempt at a claimed job: load, fetch, render, upload, finalize.

    A render longer than two pieces is planned here instead, and its pieces sent to any
    worker (worker/tasks/render_pieces.py); a later attempt of it resumes that plan.
    """

    celery = app

    def __str__(self) -> str:
        return f"render {self.claim.job_id} attempt {self.claim.attempt}"

    def run(self) -> str:
        work = load(self.claim)
        if work.plan is not None:  # an earlier attempt cut it into pieces: resume those
            return start_pieces(self, work, None)
        # Planned once, from the sources' analyses: cutting a render into pieces fetches
        # nothing here (each piece's worker fetches only what its frames show), and a render
        # in one piece renders this same timeline.
        timeline, warnings = plan_from_infos(work.edit, work.infos,
                                             self.settings.max_output_seconds)
        chunk_seconds = work.edit.chunk_seconds(self.settings.chunk_seconds)
        cache_key = piece_cache.output_key(work, chunk_seconds, self.settings.encoder)
        if cache_key is not None and (served := self.serve(work, cache_key)) is not None:
            return served
        spans, notes = plan_pieces(timeline, chunk_seconds,
                                   work.edit.video_output_format, work.edit.encoder,
                                   contents=piece_cache.contents(work),
                                   keyframes=work.keyframes)
        if len(spans) > 1:
            return start_pieces(self, work, (timeline, spans, warnings + notes), cache_key)
        fresh = []  # a source re-uploaded and analysed again since the plan: plan from its files
        with self.lease.kept():
            local = local_sources(self.claim.job_id, work.sources, self.lease.stopped,
                                  reloaded=lambda: fresh.append(True))
        if local is None:  # canceled, or the lease was lost, while fetching
            return self.stop()
        if fresh:  # nor is its output the one the former contents' key names
            cache_key = None
        self.steps.step("sources_fetched", sources=len(local))
        with tempfile.TemporaryDirectory(dir=context.scratch()) as tmp:
            output = os.path.join(tmp, work.filename)
            try:
                result = render_whole(work.edit, local, output,
                                      on_progress=self.lease.progress,
                                      should_cancel=self.lease.stopped,
                                      encoder=self.settings.encoder,
                                      max_output_seconds=self.settings.max_output_seconds,
                                      planned=None if fresh else (timeline, warnings))
            except RenderCanceled:
                return self.stop()
            result.warnings += notes
            if self.lease.answer != Beat.OK:
                return self.stop()
            self.steps.step("rendered", output_s=result.duration)
            if not self.start_upload():
                return self.stop()
            size, facts = self.store(work, output)
            outcome = self.finalize(work, result, size, facts)
            if outcome == JobState.UPLOADED and cache_key is not None:
                piece_cache.keep_output(work, cache_key, output, result, facts)
            return outcome

    def serve(self, work, key: str) -> str | None:
        """An edit the owner rendered before from the same contents: its output copied to
        this render's own object, finalized without rendering; None when not cached."""
        entry = piece_cache.serve(work, key)
        if entry is None:
            return None
        self.steps.step("served_from_cache", bytes=entry.bytes)
        if not self.start_upload():
            return self.stop()
        result, facts = piece_cache.served_result(work, entry)
        return self.finalize(work, result, entry.bytes, facts)

