"""The reaper: requeue renders whose worker vanished, re-send messages Redis lost, re-send
webhooks whose try was lost; and this worker's presence key, which metrics count.

Runs as a daemon thread in every worker process's parent (see worker/celery.py), but the
farm runs one round at a time: before a round a worker takes the farm's turn (`Turn`), a
Redis key that keeps the others out while the round runs and for one interval after it. So
the database sees about one round per interval however many workers there are (200 workers
each reaping every 10 s made 20 rounds a second), the hourly orphan sweep runs on one
worker, and a worker that dies holding the turn only delays the next round.

The parent forks a new pool process whenever one dies, and a fork copies every lock another
thread holds at that instant (a module being imported, a connection pool's): the child then
waits on it for ever. So the parent forks only between the reaper's steps (`ForkGuard`).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time

import redis
from redis.exceptions import LockError
from redis.lock import Lock

from shared import finishes, job_reaping, piece_reaping, render_cache
from shared.queue import PIECE_TASK, RENDER_TASK, WORKER_KEY_PREFIX, send

from . import context, piece_cache
from .attempt import remove_pieces
from .orphans import sweep_orphans

log = logging.getLogger(__name__)

# The orphan sweep lists the whole store: once an hour for the farm is enough.
SWEEP_EVERY = 3600
# A fork waits at most this long for the reaper's step (a hung one must not stop the pool).
FORK_WAIT_S = 60
ROUND_KEY = "canopy:reaper:round"
SWEEP_KEY = "canopy:reaper:sweep"


class Turn:
    """A farm-wide turn at `key`: one holder at a time, renewed every `hold`/3 s while its
    work runs (up to `longest` s), so a holder that dies frees it within `hold` s, and kept
    `spacing` s once the work is done, so that the work runs at most once per `spacing`
    whoever asks. With Redis away every worker takes it: the reaper's moves are
    compare-and-set, turns only spare the database."""

    def __init__(self, client: redis.Redis, key: str, hold: float, spacing: float, longest: float):
        self.lock = Lock(client, key, timeout=hold, thread_local=False)
        self.hold, self.spacing, self.longest = hold, spacing, longest

    def take(self) -> bool:
        try:
            return self.lock.acquire(blocking=False)
        except redis.RedisError:
            log.warning("could not ask Redis for the turn %s: taking it", self.lock.name)
            return True

    def run(self, work) -> None:
        """`work()` in this turn (taken), then the turn kept `spacing` s."""
        finished = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(finished,), daemon=True,
                                   name=f"{self.lock.name}-renewal")
        renewer.start()
        try:
            work()
        finally:
            finished.set()
            renewer.join()
            self._extend(self.spacing)

    def _renew(self, finished: threading.Event) -> None:
        deadline = time.monotonic() + self.longest
        while not finished.wait(self.hold / 3) and time.monotonic() < deadline:
            self._extend(self.hold)

    def _extend(self, seconds: float) -> None:
        try:
            self.lock.extend(seconds, replace_ttl=True)
        except (redis.RedisError, LockError):  # Redis away, or the turn lapsed meanwhile
            pass


class ForkGuard:
    """The reaper's steps and the parent's forks, one at a time. A pool process killed within
    a second of its worker's start left its replacement stuck for ever in `import psycopg`,
    which the reaper's first round was importing when the parent forked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.held = False  # by the fork under way

    def register(self) -> None:
        """Every fork of this process (the pool's) waits for the step under way."""
        os.register_at_fork(before=self._before_fork, after_in_parent=self._after_fork,
                            after_in_child=self._after_fork)

    def _before_fork(self) -> None:
        self.held = self.lock.acquire(timeout=FORK_WAIT_S)

    def _after_fork(self) -> None:
        if self.held:
            self.held = False
            self.lock.release()


def reap_once(celery) -> job_reaping.Reaped:
    settings = context.settings()
    with context.db().session() as session:
        reaped = job_reaping.reap(session, settings.resend_after_seconds, settings.queue_timeout_seconds)
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
    trim_cache(settings.render_cache_bytes)
    with context.db().session() as session:
        pruned = finishes.prune(session, settings.webhook_retention_days)
    if pruned:
        log.info("reaper: pruned %d finishes older than %s days", pruned,
                 settings.webhook_retention_days)
    return reaped


def reap_pieces(celery) -> piece_reaping.Reaped:
    """The pieces of renders in pieces: requeue or fail those whose worker vanished, re-send
    lost messages, and queue again the renders whose join nobody took."""
    settings = context.settings()
    with context.db().session() as session:
        reaped = piece_reaping.reap(session, settings.resend_after_seconds)
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


def trim_cache(budget: int) -> list[str]:
    """Evict each owner's least recently used render-cache entries past `budget` bytes (all
    of them at 0), and claims whose writer died; their objects deleted after the commit."""
    with context.db().session() as session:
        gone = render_cache.trim(session, budget)
    for key in gone:
        piece_cache.delete_object(key)
    if gone:
        log.info("reaper: evicted %d render-cache entries", len(gone))
    return gone


class Reaper(threading.Thread):
    def __init__(self, celery, node: str, queues: list[str]):
        super().__init__(name="canopy-reaper", daemon=True)
        self.celery = celery
        self.node = node
        self.queues = queues
        self.stopping = threading.Event()
        self.steps = ForkGuard()

    def start(self) -> None:
        self.steps.register()
        super().start()

    def run(self) -> None:
        with self.steps.lock:  # each step below holds it: see ForkGuard
            interval = context.settings().reap_interval_seconds
            presence = redis.Redis.from_url(context.settings().redis_url, socket_timeout=5)
            # A round (or sweep) that hangs past `longest` lets the others go on without it.
            rounds = Turn(presence, ROUND_KEY, hold=3 * interval, spacing=interval,
                          longest=max(60 * interval, 600))
            sweeps = Turn(presence, SWEEP_KEY, hold=60, spacing=SWEEP_EVERY,
                          longest=SWEEP_EVERY)
        while True:
            with self.steps.lock:
                try:
                    self.announce(presence, interval)
                except redis.RedisError:  # Redis may be briefly away: the key lives 3 rounds
                    log.warning("could not renew the presence of %s", self.node, exc_info=True)
            if self.stopping.wait(interval):
                return
            with self.steps.lock:  # the database or Redis may be briefly away: next turn
                self.in_turn(rounds, lambda: reap_once(self.celery), "reaper round")
                self.in_turn(sweeps, self.sweep, "orphan sweep")

    @staticmethod
    def in_turn(turn: Turn, work, what: str) -> None:
        if not turn.take():
            return
        try:
            turn.run(work)
        except Exception:
            log.warning("%s failed", what, exc_info=True)

    def sweep(self) -> None:
        """Delete stored objects no row references (worker/orphans.py)."""
        with context.db().session() as session:
            sweep_orphans(session, context.storage(), context.settings().orphan_grace_seconds)

    def announce(self, presence: redis.Redis, interval: float) -> None:
        """This worker is alive for three more rounds, consuming `queues`."""
        presence.set(WORKER_KEY_PREFIX + self.node, json.dumps({"queues": self.queues}),
                     ex=max(3 * int(interval), 5))
