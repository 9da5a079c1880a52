"""The Celery app workers run: `celery -A worker worker -Q media,render.cpu`.

Celery finds this module as `worker.celery` and its `app`.
"""
from __future__ import annotations

import logging

from celery.signals import worker_process_init, worker_ready

from shared.queue import make_celery

from . import context

app = make_celery(context.settings(), name="canopy-worker")
app.conf.include = ["worker.tasks.media", "worker.tasks.render"]


@worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    context.reset()


@worker_ready.connect
def _start_reaper(sender=None, **_kwargs) -> None:
    # Every worker runs one: reaping is a set of compare-and-set updates, safe to race.
    from .reaper import Reaper

    Reaper(app).start()


logging.getLogger("worker").setLevel(logging.INFO)
