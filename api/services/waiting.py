"""Renders that wait for their sources' analysis: moved on whenever a source changes here."""
from __future__ import annotations

from shared.waiting_jobs import settle_waiting
from shared.queue import RENDER_TASK, send

from ..context import get_session, services


def settle_renders(owner_id: str) -> None:
    """After a commit that may end a wait (a source deleted, an upload refused, a waiting
    job created): fail the waiting renders whose source is gone, send the ready ones."""
    for job_id, queue in settle_waiting(get_session(), owner_id):
        send(services().celery, RENDER_TASK, [job_id], queue)
