"""Renders that wait for their sources' analysis: moved on whenever a source changes here."""
from __future__ import annotations

from shared.waiting_jobs import settle_and_send

from ..context import get_session, services


def settle_renders(owner_id: str) -> None:
    """After a commit that may end a wait (a source deleted, an upload refused, a waiting
    job created): fail the waiting renders whose source is gone, send the ready ones."""
    settle_and_send(get_session(), services().celery, owner_id)
