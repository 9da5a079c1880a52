"""Webhooks: the caller's signing secret, and the delivery records of a render."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from shared.models import iso

from ..auth import current_user
from ..schemas import AssetPath
from ..schemas.webhooks import WebhookDeliveryList, WebhookDeliveryOut, WebhookSecretOut
from ..services import webhooks as service

bp = APIBlueprint("webhooks", __name__, abp_tags=[Tag(name="webhooks")])


@bp.get("/users/me/webhook-secret", responses={200: WebhookSecretOut})
def get_secret():
    """The secret that signs your webhooks (made on first use)."""
    return WebhookSecretOut(secret=service.secret(current_user())).model_dump()


@bp.post("/users/me/webhook-secret/rotate", responses={200: WebhookSecretOut})
def rotate_secret():
    """A new signing secret; the old one signs nothing from now on."""
    return WebhookSecretOut(secret=service.rotate_secret(current_user())).model_dump()


@bp.get("/assets/<uuid:asset_id>/webhooks", responses={200: WebhookDeliveryList})
def deliveries(path: AssetPath):
    """The webhook deliveries of a render: state, tries, the last answer or error."""
    return [
        WebhookDeliveryOut(
            id=row.id, asset_id=row.asset_id, edit_id=row.edit_id, url=row.callback_url,
            event_status=row.state, state=row.webhook_state, tries=row.tries,
            status_code=row.status_code, last_error=row.last_error,
            finished_at=iso(row.finished_at), next_try_at=iso(row.next_try_at),
            delivered_at=iso(row.delivered_at),
        ).model_dump()
        for row in service.deliveries(current_user(), path.asset_id)
    ]
