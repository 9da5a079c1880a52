"""shared/webhooks.py on its own: signatures, and the tries of one delivery on both databases."""
from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared import webhooks
from shared.models import RenderFinish, new_id, utcnow
from shared.states import DeliveryState

BACKOFF = (0.0, 0.0)  # three tries, all due at once


def test_a_signature_verifies_with_the_standard_webhooks_library():
    secret = webhooks.new_secret()
    body = json.dumps({"status": "uploaded"}).encode()
    now = int(time.time())  # the library refuses timestamps more than 5 minutes away
    headers = {"webhook-id": "msg-1", "webhook-timestamp": str(now),
               "webhook-signature": webhooks.sign(secret, "msg-1", now, body)}
    assert Webhook(secret).verify(body, headers) == {"status": "uploaded"}
    headers["webhook-id"] = "msg-2"  # the id is signed too
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def pending_finish(db, owner_id: str) -> str:
    with db.session() as session:
        finish = RenderFinish(id=new_id(), job_id=new_id(), owner_id=owner_id, asset_id=new_id(),
                              state="failed", error="boom", finished_at=utcnow(), tries=0,
                              callback_url="http://127.0.0.2:9/hook",
                              webhook_state=DeliveryState.PENDING, next_try_at=utcnow())
        session.add(finish)
        return finish.id


def no_link(_key, _name):
    return None


def test_tries_follow_the_backoff_and_keep_the_last_answer(db, make_user):
    finish_id = pending_finish(db, make_user()[0])
    with db.session() as session:
        first = webhooks.take_try(session, finish_id, no_link, lease_s=60)
        assert webhooks.take_try(session, finish_id, no_link, lease_s=60) is None  # taken
        assert json.loads(first.body)["status"] == "failed" and first.number == 1
        assert webhooks.end_try(session, first, 500, None, BACKOFF) == 0.0
        second = webhooks.take_try(session, finish_id, no_link, lease_s=60)
        assert webhooks.end_try(session, second, None, "connection refused", BACKOFF) == 0.0
        third = webhooks.take_try(session, finish_id, no_link, lease_s=60)
        assert webhooks.end_try(session, third, None, "connection refused", BACKOFF) is None
        row = session.get(RenderFinish, finish_id)
        session.refresh(row)
    assert (row.webhook_state, row.tries, row.status_code, row.last_error) == (
        DeliveryState.FAILED, 3, 500, "connection refused")
    assert first.headers["webhook-id"] == third.headers["webhook-id"] == finish_id
