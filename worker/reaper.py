"""The reaper: requeue renders whose worker vanished, re-send messages Redis lost.

Runs as a daemon thread in every worker process's parent (see worker/celery.py).
"""
from __future__ import annotations

import logging
import threading

from shared import jobs
from shared.queue import RENDER_TASK, send

from . import context

log = logging.getLogger(__name__)


def reap_once(celery) -> jobs.Reaped:
    settings = context.settings()
    with context.db().session() as session:
        reaped = jobs.reap(session, settings.resend_after_seconds, settings.queue_timeout_seconds)
    for job_id, queue in reaped.resend:
        send(celery, RENDER_TASK, [job_id], queue)
    if reaped.requeued or reaped.failed or reaped.resend:
        log.info("reaper: requeued %s, failed %s, re-sent %s",
                 reaped.requeued, reaped.failed, [j for j, _ in reaped.resend])
    return reaped


class Reaper(threading.Thread):
    def __init__(self, celery):
        super().__init__(name="canopy-reaper", daemon=True)
        self.celery = celery
        self.stopping = threading.Event()

    def run(self) -> None:
        interval = context.settings().reap_interval_seconds
        while not self.stopping.wait(interval):
            try:
                reap_once(self.celery)
            except Exception:  # the database or Redis may be briefly away: try next round
                log.warning("reaper round failed", exc_info=True)
