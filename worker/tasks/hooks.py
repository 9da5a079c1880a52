"""The webhook task: one try of a finished render's webhook, and the next one scheduled."""
from __future__ import annotations

import logging

from shared import webhooks
from shared.logs import fields
from shared.queue import HOOKS_QUEUE, WEBHOOK_TASK

from .. import context
from ..celery import app

log = logging.getLogger(__name__)


def _link(key: str, filename: str) -> str | None:
    return context.storage().download_url(key, filename=filename,
                                          ttl=context.settings().link_ttl_seconds)


@app.task(name=WEBHOOK_TASK)
def deliver_webhook(finish_id: str) -> None:
    settings = context.settings()
    with context.db().session() as session:
        attempt = webhooks.take_try(session, finish_id, _link,
                                    lease_s=settings.webhook_timeout_seconds + 60)
    if attempt is None:
        return  # delivered, failed, not due yet, or another message has this try
    status, error = webhooks.send_try(attempt, settings.webhook_timeout_seconds,
                                      settings.fetch_allow)
    with context.db().session() as session:
        wait = webhooks.end_try(session, attempt, status, error, settings.webhook_backoff)
    log.info("webhook %s try %d: %s", finish_id, attempt.number, status or error,
             extra=fields(event="webhook.try", finish_id=finish_id, tries=attempt.number,
                          status_code=status, error=error, retry_in_s=wait))
    if wait is not None:
        # Held by the worker until due; if it is lost, the reaper re-sends the overdue try.
        try:
            deliver_webhook.apply_async([finish_id], queue=HOOKS_QUEUE, countdown=wait)
        except Exception:  # Redis away: the reaper re-sends the overdue try
            log.warning("could not schedule webhook %s", finish_id, exc_info=True)
