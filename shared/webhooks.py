"""Webhooks, signed the Standard Webhooks way (https://www.standardwebhooks.com).

Each user has one secret, `whsec_` + base64 of 24 random bytes, readable and rotatable
through the API. A delivery POSTs JSON with the headers `webhook-id` (the finish's id, the
same on every try), `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body` keyed by the secret's bytes).

A delivery is a sequence of tries on one `RenderFinish` row: each try is taken with a
compare-and-set on its count (duplicate messages never POST twice at once), checked by the
same SSRF guard as `url` uploads, and ends delivered (2xx), due again after the next wait
of the backoff, or failed after the last wait.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import totals
from .fetch import FetchError, post
from .models import Asset, RenderFinish, User, iso, utcnow
from .states import DeliveryState, JobState

SECRET_PREFIX = "whsec_"
EVENT_TYPE = "render.finished"
EARLY = timedelta(seconds=1)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def secret_for(session: Session, user_id: str) -> str:
    """The user's secret, made on first use (concurrent first uses agree on one)."""
    secret = session.execute(select(User.webhook_secret).where(User.id == user_id)).scalar_one()
    if secret:
        return secret
    session.execute(update(User).where(User.id == user_id, User.webhook_secret.is_(None))
                    .values(webhook_secret=new_secret()))
    return session.execute(select(User.webhook_secret).where(User.id == user_id)).scalar_one()


def rotate_secret(session: Session, user_id: str) -> str:
    """A new secret; the old one signs nothing from now on (tries in flight included)."""
    secret = new_secret()
    session.execute(update(User).where(User.id == user_id).values(webhook_secret=secret))
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def payload(finish: RenderFinish, asset: Asset | None, link: Callable[[str, str], str | None]) -> dict:
    """What the receiver learns: the render's outcome and, when uploaded, a fresh download link."""
    stored = asset is not None and finish.state == JobState.UPLOADED and asset.storage_key
    return {
        "type": EVENT_TYPE,
        "asset_id": finish.asset_id,
        "edit_id": finish.edit_id,
        "project_id": finish.project_id,
        "status": finish.state,
        "error": finish.error,
        "download_url": link(asset.storage_key, asset.filename or asset.keyname) if stored else None,
        "size": finish.bytes,
        "duration": finish.output_seconds,
        "finished_at": iso(finish.finished_at),
    }


@dataclass(frozen=True)
class Try:
    """One try, taken: what to send where."""

    finish_id: str
    number: int  # 1-based
    url: str
    body: bytes
    headers: dict


def take_try(session: Session, finish_id: str, link, lease_s: float) -> Try | None:
    """Take the next try of a due, pending webhook; None when it is delivered, failed, not due
    yet or taken by another message. The try holds it for `lease_s` (then the reaper may
    re-send it)."""
    finish = session.get(RenderFinish, finish_id)
    now = utcnow()
    # A second of slack: the delayed message of the next try may come a little early.
    if finish is None or finish.webhook_state != DeliveryState.PENDING or finish.next_try_at > now + EARLY:
        return None
    number = finish.tries + 1  # read first: the update below refreshes `finish`
    taken = session.execute(
        update(RenderFinish)
        .where(RenderFinish.id == finish_id, RenderFinish.webhook_state == DeliveryState.PENDING,
               RenderFinish.tries == number - 1)
        .values(tries=number, next_try_at=now + timedelta(seconds=lease_s))
    )
    if taken.rowcount != 1:
        session.rollback()
        return None
    body = json.dumps(payload(finish, session.get(Asset, finish.asset_id), link)).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Canopy-webhook/1",
        "webhook-id": finish.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret_for(session, finish.owner_id), finish.id, timestamp, body),
    }
    session.commit()
    return Try(finish.id, number, finish.callback_url, body, headers)


def send_try(attempt: Try, timeout: float, allow) -> tuple[int | None, str | None]:
    """POST it: (status code, None) when the receiver answered, else (None, why not)."""
    try:
        return post(attempt.url, attempt.body, attempt.headers, timeout=timeout, allow=allow), None
    except FetchError as exc:
        return None, exc.reason


def end_try(session: Session, attempt: Try, status: int | None, error: str | None,
            backoff: tuple[float, ...]) -> float | None:
    """Record the try's outcome; the seconds until the next try, or None when none follows."""
    delivered = status is not None and 200 <= status < 300
    if status is not None and not delivered:
        error = f"the receiver answered HTTP {status}"
    last = attempt.number > len(backoff)
    wait = None if delivered or last else backoff[attempt.number - 1]
    now = utcnow()
    state = (DeliveryState.DELIVERED if delivered else
             DeliveryState.FAILED if last else DeliveryState.PENDING)
    ended = session.execute(
        update(RenderFinish).where(RenderFinish.id == attempt.finish_id,
                                   RenderFinish.tries == attempt.number,
                                   RenderFinish.webhook_state == DeliveryState.PENDING)
        .values(webhook_state=state,
                # the last answer a receiver gave stays when a later try gets none
                status_code=RenderFinish.status_code if status is None else status,
                last_error=None if delivered else (error or "")[:2000],
                delivered_at=now if delivered else None,
                next_try_at=None if wait is None else now + timedelta(seconds=wait))
    ).rowcount == 1
    if ended and state != DeliveryState.PENDING:
        totals.add_webhook_end(session, state)
    session.commit()
    return wait
