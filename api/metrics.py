"""HTTP request metrics of the API processes, and the text every `GET /metrics` answers.

Each gunicorn process counts its own requests. Under gunicorn (gunicorn.conf.py) they
share PROMETHEUS_MULTIPROC_DIR: prometheus_client's multiprocess mode keeps each process's
counts in a file there and a scrape, whichever process answers it, sums them all. Without
it (one process: the tests' in-process app) this process's own registry answers.
The farm's figures (jobs, queues, workers, renders) are read from the database and Redis
at scrape time (api/services/farm_metrics.py).
"""
from __future__ import annotations

import os
import time
from http import HTTPStatus

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

_local = CollectorRegistry()
REQUESTS = Counter("canopy_http_requests", "HTTP requests answered, by route and status",
                   ["method", "route", "status"], registry=_local)
DURATION = Histogram("canopy_http_request_duration_seconds", "Time to answer an HTTP request",
                     ["route"], registry=_local,
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
# Open event streams (GET /assets/{id}/events), summed over this machine's live API processes.
STREAMS = Gauge("canopy_event_streams", "Event streams open", registry=_local,
                multiprocess_mode="livesum")


# Every label takes values from a fixed set, so no client can add series: a method outside
# METHODS is "other", a path no route matches is "<unmatched>" (a route is its rule, never
# the path: ids would make one series per asset), a status outside HTTPStatus is "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUSES = frozenset(str(status.value) for status in HTTPStatus)
OTHER = "other"


def labels_of(method: str, rule, status_code: int) -> tuple[str, str, str]:
    """The (method, route, status) labels of one answered request."""
    route = rule.rule if rule is not None else "<unmatched>"
    status = str(status_code)
    return (method if method in METHODS else OTHER, route, status if status in STATUSES else OTHER)


def _started() -> None:
    g.metrics_t0 = time.perf_counter()


def _answered(response):
    method, route, status = labels_of(request.method, request.url_rule, response.status_code)
    REQUESTS.labels(method, route, status).inc()
    started = g.get("metrics_t0")
    if started is not None:
        DURATION.labels(route).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Count every request; call before any other `before_request` hook (auth may refuse)."""
    app.before_request(_started)
    app.after_request(_answered)


class _Registered:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def exposition(*collectors) -> bytes:
    """The Prometheus text: this API's request metrics and `collectors`' figures."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_Registered(_local))
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
