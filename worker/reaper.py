"""The reaper: requeue renders whose worker vanished, re-send messages Redis lost, re-send
webhooks whose try was lost; and this worker's presence key, which metrics count.

Runs as a daemon thread in every worker process's parent (see worker/celery.py).
"""
from __future__ import annotations

import json
import logging
import threading
import time

import redis

from shared import finishes, jobs, pieces
from shared.queue import PIECE_TASK, RENDER_TASK, WORKER_KEY_PREFIX, send

from . import context
from .orphans import sweep_orphans

log = logging.getLogger(__name__)

# The orphan sweep lists the whole store: once an hour (and when the worker starts) is enough.
SWEEP_EVERY = 3600


def reap_once(celery) -> jobs.Reaped:
    settings = context.settings()
    with context.db().session() as session:
        reaped = jobs.reap(session, settings.resend_after_seconds, settings.queue_timeout_seconds)
    for job_id, queue in reaped.resend:
        send(celery, RENDER_TASK, [job_id], queue)
    if reaped.requeued or reaped.failed or reaped.resend:
        log.info("reaper: requeued %s, failed %s, re-sent %s",
                 reaped.requeued, reaped.failed, [j for j, _ in reaped.resend])
    reap_pieces(celery)
    with context.db().session() as session:
        overdue = finishes.overdue_webhooks(session, settings.resend_after_seconds)
    for finish_id in overdue:
        finishes.send_webhook(celery, finish_id)
    if overdue:
        log.info("reaper: re-sent webhooks %s", overdue)
    return reaped


def reap_pieces(celery) -> pieces.Reaped:
    """The pieces of chunked renders: requeue or fail those whose worker vanished, re-send
    lost messages, and queue again the renders whose join nobody took."""
    from .tasks.render import remove_pieces

    settings = context.settings()
    with context.db().session() as session:
        reaped = pieces.reap(session, settings.resend_after_seconds)
    for job_id, index, queue in reaped.resend:
        send(celery, PIECE_TASK, [job_id, index], queue)
    for job_id, queue in reaped.rejoin:
        send(celery, RENDER_TASK, [job_id], queue)
    for job_id in reaped.failed_jobs:
        remove_pieces(job_id)
    if reaped.requeued or reaped.failed_jobs or reaped.rejoin:
        log.info("reaper: pieces requeued %s, renders failed %s, renders to join %s",
                 reaped.requeued, reaped.failed_jobs, [j for j, _ in reaped.rejoin])
    return reaped


class Reaper(threading.Thread):
    def __init__(self, celery, node: str, queues: list[str]):
        super().__init__(name="canopy-reaper", daemon=True)
        self.celery = celery
        self.node = node
        self.queues = queues
        self.stopping = threading.Event()
        self.next_sweep = time.monotonic()

    def run(self) -> None:
        interval = context.settings().reap_interval_seconds
        presence = redis.Redis.from_url(context.settings().redis_url, socket_timeout=5)
        while True:
            try:
                self.announce(presence, interval)
            except redis.RedisError:  # Redis may be briefly away: the key lives 3 rounds
                log.warning("could not renew the presence of %s", self.node, exc_info=True)
            if self.stopping.wait(interval):
                return
            try:
                reap_once(self.celery)
            except Exception:  # the database or Redis may be briefly away: try next round
                log.warning("reaper round failed", exc_info=True)
            try:
                self.sweep()
            except Exception:  # the store may be briefly away: the next sweep tries again
                log.warning("orphan sweep failed", exc_info=True)

    def sweep(self) -> None:
        """Delete stored objects no row references (worker/orphans.py), every SWEEP_EVERY s."""
        if time.monotonic() < self.next_sweep:
            return
        self.next_sweep = time.monotonic() + SWEEP_EVERY
        with context.db().session() as session:
            sweep_orphans(session, context.storage(), context.settings().orphan_grace_seconds)

    def announce(self, presence: redis.Redis, interval: float) -> None:
        """This worker is alive for three more rounds, consuming `queues`."""
        presence.set(WORKER_KEY_PREFIX + self.node, json.dumps({"queues": self.queues}),
                     ex=max(3 * int(interval), 5))
