"""One structured log line per step of a render attempt (claimed, sources fetched, rendered,
uploaded, finished), each with the job id, the attempt, the step's own duration (`step_s`)
and the time since the claim (`total_s`); the pieces and the join of a render in pieces say
which (`piece`, `stage`)."""
from __future__ import annotations

import logging
import time

from shared.logs import fields

log = logging.getLogger("worker.render")


class StepLog:
    def __init__(self, job_id: str, attempt: int, **context):
        self.job_id = job_id
        self.attempt = attempt
        self.context = context
        self.start = self.last = time.monotonic()

    def step(self, name: str, **values) -> None:
        now = time.monotonic()
        log.info("render %s", name, extra=fields(
            event=f"render.{name}", job_id=self.job_id, attempt=self.attempt, **self.context,
            step_s=now - self.last, total_s=now - self.start, **values))
        self.last = now
