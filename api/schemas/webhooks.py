"""Models of the webhook endpoints: the signing secret and the delivery records."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, RootModel


class WebhookSecretOut(BaseModel):
    secret: str  # "whsec_" + base64: the Standard Webhooks form


class WebhookDeliveryOut(BaseModel):
    id: str  # the `webhook-id` header of every try
    asset_id: str
    edit_id: Optional[str]
    url: str
    event_status: str  # the render's outcome the webhook reports
    state: str  # pending | delivered | failed
    tries: int
    status_code: Optional[int]  # of the last try that got an answer
    last_error: Optional[str]
    finished_at: str
    next_try_at: Optional[str]
    delivered_at: Optional[str]


class WebhookDeliveryList(RootModel[list[WebhookDeliveryOut]]):
    pass
