"""Celery wiring both sides share: queue names, task names, and the broker settings.

The API only *sends* tasks by name (it never imports `worker`); workers register them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Celery

from .config import Settings

MEDIA_QUEUE = "media"
RENDER_CPU_QUEUE = "render.cpu"
RENDER_GPU_QUEUE = "render.gpu"
# Webhook deliveries: short HTTP calls, kept apart so a dedicated worker can take them.
HOOKS_QUEUE = "hooks"
# Every queue a worker may consume, in the order the farm page lists them.
QUEUES = (MEDIA_QUEUE, RENDER_CPU_QUEUE, RENDER_GPU_QUEUE, HOOKS_QUEUE)

PROBE_TASK = "canopy.probe_media"
FETCH_TASK = "canopy.fetch_video_file"
RENDER_TASK = "canopy.render"
WEBHOOK_TASK = "canopy.deliver_webhook"

# Each worker process (a Celery node) keeps a key `canopy:worker:<node>` alive in Redis,
# holding the queues it consumes; it expires when the worker stops renewing it.
WORKER_KEY_PREFIX = "canopy:worker:"
PIECE_TASK = "canopy.render_piece"  # args: job id, piece index; sent on the job's queue

# Hard limit of one render; the broker's visibility timeout must exceed it plus the upload.
RENDER_HARD_LIMIT_S = 6 * 3600
VISIBILITY_TIMEOUT_S = RENDER_HARD_LIMIT_S + 3600


def make_celery(settings: Settings, name: str = "canopy") -> Celery:
    app = Celery(name, broker=settings.redis_url)
    app.conf.update(
        task_default_queue=MEDIA_QUEUE,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=RENDER_HARD_LIMIT_S - 60,
        task_time_limit=RENDER_HARD_LIMIT_S,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # Not cancelled on a lost broker connection: Celery would SIGTERM the pool child
        # mid-render, and in 2 of some 17 Redis-restart tests here the prefork pool then never
        # started another task. The running render keeps its lease and finishes; its
        # message, unacknowledgeable, comes back or is re-sent, and the claim drops it.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # A send to a Redis that is down fails fast; the reaper re-sends what stayed queued.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        worker_hijack_root_logger=False,
    )
    return app


def send(celery: Celery, task: str, args: list, queue: str) -> bool:
    """Send `task` by name; False (and the row stays queued for a re-send) if Redis is down."""
    try:
        celery.send_task(task, args=args, queue=queue)
        return True
    except Exception:  # kombu raises several connection error types
        logging.getLogger(__name__).warning("could not send %s to %s", task, queue, exc_info=True)
        return False



@dataclass(frozen=True)
class BrokerView:
    """What the broker says: messages waiting per queue, and the live workers with the
    queues each consumes (those that answered a broadcast in time). None: no answer."""

    depths: dict[str, int] | None
    workers: dict[str, list[str]] | None


def broker_view(celery: Celery, timeout: float, queues=QUEUES) -> BrokerView:
    """One connection, tried once: a broker that is down costs about its connect timeout."""
    try:
        with celery.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            depths = queue_depths(conn.default_channel.client, queues)
            answers = celery.control.inspect(timeout=timeout, connection=conn).active_queues()
    except Exception as exc:  # kombu raises several connection error types
        logging.getLogger(__name__).warning("the broker did not answer: %s", exc)
        return BrokerView(None, None)
    workers = {name: sorted(q["name"] for q in consumed)
               for name, consumed in sorted((answers or {}).items())}
    return BrokerView(depths, workers)


def queue_depths(client, queues=QUEUES) -> dict[str, int]:
    """Messages waiting in each queue (not those a worker holds), read with `client`, a
    redis.Redis on the broker's database: no broker connection of its own.

    Kombu's Redis transport keeps a queue as one list per priority step: the queue's name
    for step 0, `<name><sep><step>` for the others (its Channel._q_for_pri); its size is
    their lengths' sum (Channel._size). A message a worker holds is in no list."""
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    lists = {name: [f"{name}{Channel.sep}{step}" if step else name for step in PRIORITY_STEPS]
             for name in queues}
    with client.pipeline(transaction=False) as pipe:
        for names in lists.values():
            for key in names:
                pipe.llen(key)
        lengths = iter(pipe.execute())
    return {name: sum(next(lengths) for _ in names) for name, names in lists.items()}
