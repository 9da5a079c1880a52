"""The farm's figures, read from the database and Redis when Prometheus scrapes.

Renders are finished by workers on any machine, so no process could count them in memory
(nor prometheus_client's multiprocess mode, which sums the processes of one machine).
Every figure is derived from shared state instead: gauges from the jobs table, Redis's
queues and the workers' presence keys; counters and histograms from `render_finishes`,
the ledger each finish writes once and nothing deletes, so they only ever go up, and
every API process answers the same figures.
"""
from __future__ import annotations

import json

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func, select

from shared.db import Database
from shared.jobs import lease_clock
from shared.models import RenderFinish, RenderJob, RenderPiece
from shared.queue import QUEUES, WORKER_KEY_PREFIX, queue_depths
from shared.states import ACTIVE, FINISHED, DeliveryState, JobState

OUTCOMES = [state.value for state in JobState if state in FINISHED]
# Seconds: from a second to six hours (the render's hard limit).
TIME_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
# Render seconds per output second: below 1 is faster than real time.
SPEED_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16)


class FarmCollector:
    """A prometheus_client collector over the database and Redis."""

    def __init__(self, db: Database, celery, redis_client: redis.Redis):
        self.db = db
        self.celery = celery
        self.redis = redis_client

    def collect(self):
        with self.db.session() as session:
            yield from self._jobs(session)
            yield from self._finishes(session)
        yield from self._redis()

    def _jobs(self, session):
        """Jobs and the pieces of chunked renders by state; the workers holding a live lease
        on either (a lease is renewed while its render or piece runs)."""
        busy = set()
        for table, name, doc in ((RenderJob, "canopy_render_jobs", "Render jobs by state"),
                                 (RenderPiece, "canopy_render_pieces",
                                  "Pieces of chunked renders by state")):
            counts = dict(session.execute(
                select(table.state, func.count()).group_by(table.state)).all())
            family = GaugeMetricFamily(name, doc, labels=["state"])
            for state in JobState:
                family.add_metric([state.value], counts.get(state.value, 0))
            yield family
            busy.update(session.execute(
                select(table.worker_id).distinct()
                .where(table.state.in_(sorted(ACTIVE)), table.lease_until > lease_clock(session))
            ).scalars())
        yield GaugeMetricFamily("canopy_workers_busy",
                                "Worker processes holding a live render or piece lease",
                                value=len(busy - {None}))

    def _finishes(self, session):
        totals = {state: (count, size) for state, count, size in session.execute(
            select(RenderFinish.state, func.count(), func.coalesce(func.sum(RenderFinish.bytes), 0))
            .group_by(RenderFinish.state)).all()}
        renders = CounterMetricFamily("canopy_renders", "Finished renders by outcome",
                                      labels=["outcome"])
        output = CounterMetricFamily("canopy_render_output_bytes",
                                     "Bytes of finished renders' outputs by outcome",
                                     labels=["outcome"])
        for outcome in OUTCOMES:
            count, size = totals.get(outcome, (0, 0))
            renders.add_metric([outcome], count)
            output.add_metric([outcome], size)
        yield renders
        yield output
        hooks = dict(session.execute(
            select(RenderFinish.webhook_state, func.count())
            .where(RenderFinish.webhook_state.is_not(None)).group_by(RenderFinish.webhook_state)).all())
        webhooks = GaugeMetricFamily("canopy_webhooks", "Webhooks of finished renders by delivery state",
                                     labels=["state"])
        for state in DeliveryState:
            webhooks.add_metric([state.value], hooks.get(state.value, 0))
        yield webhooks
        yield self._histogram(session, "canopy_render_queued_seconds",
                              "Time from a render's submission to its first claim",
                              RenderFinish.queued_seconds, TIME_BUCKETS)
        yield self._histogram(session, "canopy_render_wall_seconds",
                              "Time from a render's first claim to its finish",
                              RenderFinish.wall_seconds, TIME_BUCKETS)
        speed = case((RenderFinish.output_seconds > 0,
                      RenderFinish.wall_seconds / RenderFinish.output_seconds))
        yield self._histogram(session, "canopy_render_seconds_per_output_second",
                              "Render wall seconds per second of output (uploaded renders)",
                              speed, SPEED_BUCKETS)

    @staticmethod
    def _histogram(session, name: str, doc: str, value, buckets) -> HistogramMetricFamily:
        """One query: per outcome, the count at or below each bound, the count and the sum."""
        columns = [func.sum(case((value <= bound, 1), else_=0)) for bound in buckets]
        rows = session.execute(
            select(RenderFinish.state, func.count(value), func.coalesce(func.sum(value), 0.0),
                   *columns)
            .where(value.is_not(None)).group_by(RenderFinish.state)).all()
        family = HistogramMetricFamily(name, doc, labels=["outcome"])
        found = {row[0]: row[1:] for row in rows}
        for outcome in OUTCOMES:
            count, total, *below = found.get(outcome, (0, 0.0, *([0] * len(buckets))))
            family.add_metric(
                [outcome], [(str(bound), int(n or 0)) for bound, n in zip(buckets, below)]
                + [("+Inf", int(count))], sum_value=float(total))
        return family

    def _redis(self):
        up = GaugeMetricFamily("canopy_redis_up", "1 when the scrape could read Redis")
        try:
            with self.celery.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1)
                depths = queue_depths(conn.default_channel)
            keys = list(self.redis.scan_iter(match=WORKER_KEY_PREFIX + "*", count=500))
            presences = self.redis.mget(keys) if keys else []
        except Exception:  # redis-py's and kombu's connection errors
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        queued = GaugeMetricFamily("canopy_queue_length",
                                   "Messages waiting in each Celery queue", labels=["queue"])
        for queue, depth in depths.items():
            queued.add_metric([queue], depth)
        yield queued
        live = [json.loads(value) for value in presences if value]  # None: expired meanwhile
        yield GaugeMetricFamily("canopy_workers_live",
                                "Worker processes whose presence key is alive", value=len(live))
        per_queue = GaugeMetricFamily("canopy_workers", "Live worker processes consuming each queue",
                                      labels=["queue"])
        for queue in QUEUES:
            per_queue.add_metric([queue], sum(queue in p.get("queues", ()) for p in live))
        yield per_queue
