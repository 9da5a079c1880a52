"""The farm's figures, read from the database and Redis when Prometheus scrapes.

Renders are finished by workers on any machine, so no process could count them in memory
(nor prometheus_client's multiprocess mode, which sums the processes of one machine).
Every figure is derived from shared state instead: gauges from the live jobs, Redis's
queues and the workers' presence keys; counters and histograms from the running totals
each finish adds to in its own transaction (shared/totals.py), so they only ever go up,
every API process answers the same figures, and a scrape costs the same on a farm's first
day as after a million renders (bench/history.py).
"""
from __future__ import annotations

import json

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from shared import render_cache, totals
from shared.db import Database
from shared.leases import lease_clock
from shared.models import RenderFinish, RenderJob, RenderPiece
from shared.queue import QUEUES, WORKER_KEY_PREFIX, queue_depths
from shared.states import (ACTIVE, FINISHED, PENDING, PIECE_ACTIVE, DeliveryState, JobState,
                           PieceState)

OUTCOMES = [state.value for state in JobState if state in FINISHED]


class FarmCollector:
    """A prometheus_client collector over the database and Redis."""

    def __init__(self, db: Database, redis_client: redis.Redis):
        self.db = db
        self.redis = redis_client

    def collect(self):
        with self.db.session() as session:
            yield from self._jobs(session)
            yield from self._finishes(session)
        yield from self._redis()

    def _jobs(self, session):
        """Live jobs by state, and the pieces of live renders in pieces by state; the workers
        holding a live lease on either (a lease is renewed while its render or piece runs).
        Finished jobs are counted by `canopy_renders_total`: counting their rows would read
        the farm's whole history."""
        live = sorted(PENDING | ACTIVE)
        jobs = dict(session.execute(select(RenderJob.state, func.count())
                                    .where(RenderJob.state.in_(live)).group_by(RenderJob.state)).all())
        pieces = dict(session.execute(
            select(RenderPiece.state, func.count())
            .join(RenderJob, RenderJob.id == RenderPiece.job_id)
            .where(RenderJob.state.in_(live)).group_by(RenderPiece.state)).all())
        for name, doc, counts, states in (
                ("canopy_render_jobs", "Render jobs not yet finished, by state", jobs, live),
                ("canopy_render_pieces", "Pieces of renders in pieces not yet finished, by state",
                 pieces, [state.value for state in PieceState])):
            family = GaugeMetricFamily(name, doc, labels=["state"])
            for state in states:
                family.add_metric([state], counts.get(state, 0))
            yield family
        busy = set()
        for table, active in ((RenderJob, ACTIVE), (RenderPiece, PIECE_ACTIVE)):
            busy.update(session.execute(
                select(table.worker_id).distinct()
                .where(table.state.in_(sorted(active)), table.lease_until > lease_clock(session))
            ).scalars())
        yield GaugeMetricFamily("canopy_workers_busy",
                                "Worker processes holding a live render or piece lease",
                                value=len(busy - {None}))

    def _finishes(self, session):
        """Counters and histograms from the running totals (shared/totals.py): a few rows."""
        sums = totals.read(session)
        renders = CounterMetricFamily("canopy_renders", "Finished renders by outcome",
                                      labels=["outcome"])
        output = CounterMetricFamily("canopy_render_output_bytes",
                                     "Bytes of finished renders' outputs by outcome",
                                     labels=["outcome"])
        for outcome in OUTCOMES:
            count, size = sums.get((outcome, totals.RENDERS, totals.WHOLE), (0, 0))
            renders.add_metric([outcome], count)
            output.add_metric([outcome], int(size))
        yield renders
        yield output
        pending = session.execute(select(func.count()).select_from(RenderFinish).where(
            RenderFinish.webhook_state == DeliveryState.PENDING)).scalar_one()
        webhooks = GaugeMetricFamily("canopy_webhooks", "Webhooks of finished renders by delivery state",
                                     labels=["state"])
        for state in DeliveryState:
            webhooks.add_metric([state.value], pending if state == DeliveryState.PENDING else
                                sums.get((state.value, totals.WEBHOOKS, totals.WHOLE), (0, 0))[0])
        yield webhooks
        yield from self._cache(session, sums)
        for series, doc in (
                ("queued_seconds", "Time from a render's submission to its first claim"),
                ("wall_seconds", "Time from a render's first claim to its finish"),
                ("seconds_per_output_second",
                 "Render wall seconds per second of output (uploaded renders)")):
            yield self._histogram(sums, series, doc)

    @staticmethod
    def _cache(session, sums):
        """The render cache, the farm's whole: pieces by outcome, bytes served from it, bytes
        kept in it. No owner in any label."""
        pieces = CounterMetricFamily(
            "canopy_render_cache_pieces",
            "Render-cache lookups (a planned piece, or a whole output found cached) by "
            "outcome: hit, miss (pieces), refused (an entry found wrong and evicted)",
            labels=["outcome"])
        for outcome in (render_cache.HIT, render_cache.MISS, render_cache.REFUSED):
            pieces.add_metric([outcome], sums.get((outcome, totals.CACHE, totals.WHOLE), (0, 0))[0])
        yield pieces
        served = sums.get((render_cache.HIT, totals.CACHE, totals.WHOLE), (0, 0))[1]
        yield CounterMetricFamily("canopy_render_cache_hit_bytes",
                                  "Bytes of cached pieces reused instead of rendered",
                                  value=int(served))
        yield GaugeMetricFamily("canopy_render_cache_bytes",
                                "Bytes the render cache holds, all owners together",
                                value=render_cache.stored_bytes(session))

    @staticmethod
    def _histogram(sums, series: str, doc: str) -> HistogramMetricFamily:
        """Cumulative buckets from the totals' per-bucket counts."""
        family = HistogramMetricFamily(f"canopy_render_{series}", doc, labels=["outcome"])
        for outcome in OUTCOMES:
            count, total = sums.get((outcome, series, totals.WHOLE), (0, 0.0))
            below, buckets = 0, []
            for bound in totals.HISTOGRAMS[series]:
                below += sums.get((outcome, series, str(bound)), (0, 0.0))[0]
                buckets.append((str(bound), below))
            family.add_metric([outcome], buckets + [("+Inf", count)], sum_value=float(total))
        return family

    def _redis(self):
        up = GaugeMetricFamily("canopy_redis_up", "1 when the scrape could read Redis")
        try:
            # The app's Redis client (its pool's connection), not a broker connection per
            # scrape: connecting and pinging cost a scrape ~60 ms under load.
            depths = queue_depths(self.redis)
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
