"""The Celery app workers run: `celery -A worker worker -Q media,render.cpu`, and the webhook
sender, `celery -A worker worker -Q hooks --pool threads --concurrency 8 -n hooks@%h`.

Webhook tries wait on receivers the farm does not control (up to CANOPY_WEBHOOK_TIMEOUT
each), so they run only in a worker of their own: never in the slots probes and renders need.

Celery finds this module as `worker.celery` and its `app`.
"""
from __future__ import annotations

import logging

from celery.signals import celeryd_after_setup, setup_logging, worker_process_init, worker_ready

from shared import finishes, logs
from shared import waiting_jobs  # noqa: F401  its after-commit listener: see below
from shared.queue import HOOKS_QUEUE, RENDER_GPU_QUEUE, make_celery

from . import context

app = make_celery(context.settings(), name="canopy-worker")
app.conf.include = ["worker.tasks.hooks", "worker.tasks.media", "worker.tasks.render",
                    "worker.tasks.render_pieces"]
finishes.use_celery(app)  # finishes decided here send their webhook once committed, and the
# renders that waited for them as a source are sent then too (shared/waiting_jobs.py)


@setup_logging.connect
def _logging(loglevel=logging.INFO, **_kwargs) -> None:
    """Celery's own lines too go out in CANOPY_LOG_FORMAT (text, or JSON lines)."""
    logs.configure(context.settings().log_format, loglevel or logging.INFO)


@worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    context.reset()


@celeryd_after_setup.connect
def _extra_queues(sender, instance, **_kwargs) -> None:
    """A media or render worker with a usable NVENC (or told CANOPY_ENCODER=gpu) also takes
    GPU renders; the webhook sender (`-Q hooks` alone) takes nothing more."""
    encoder = context.settings().encoder
    if encoder == "cpu" or set(instance.app.amqp.queues.consume_from) == {HOOKS_QUEUE}:
        return
    from worker.render import gpu_available

    if encoder == "gpu" or gpu_available():
        instance.app.amqp.queues.select_add(RENDER_GPU_QUEUE)
        logging.getLogger("worker").info("consuming %s: NVENC is available", RENDER_GPU_QUEUE)


@worker_ready.connect
def _start_reaper(sender=None, **_kwargs) -> None:
    # Every worker runs one; they take turns (worker/reaper.py), one round at a time.
    from .reaper import Reaper

    Reaper(app, sender.hostname, sorted(app.amqp.queues.consume_from)).start()


logging.getLogger("worker").setLevel(logging.INFO)
