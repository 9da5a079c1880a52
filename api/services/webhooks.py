"""Webhooks seen from the API: the caller's signing secret, the callback_url check at
submit, and the delivery records of a render."""
from __future__ import annotations

from sqlalchemy import select

from shared import webhooks
from shared.edit import VideoEdit
from shared.errors import Unprocessable
from shared.fetch import FetchError, check_url
from shared.models import RenderFinish

from ..auth import Caller
from ..context import get_session, get_settings
from .assets import owned_asset


def secret(user: Caller) -> str:
    session = get_session()
    value = webhooks.secret_for(session, user.id)
    session.commit()
    return value


def rotate_secret(user: Caller) -> str:
    session = get_session()
    value = webhooks.rotate_secret(session, user.id)
    session.commit()
    return value


def check_callback(edit: VideoEdit) -> None:
    """A callback_url must pass the SSRF guard of `url` uploads (422 naming it otherwise);
    each delivery checks it again, since its host may resolve elsewhere later."""
    if edit.callback_url is None:
        return
    try:
        check_url(edit.callback_url, get_settings().fetch_allow)
    except FetchError as exc:
        raise Unprocessable.field(("body", "callback_url"), exc.reason) from None


def deliveries(user: Caller, asset_id) -> list[RenderFinish]:
    """The webhook deliveries of the caller's render (none, or one per finish)."""
    asset = owned_asset(user, asset_id)
    return list(get_session().execute(
        select(RenderFinish).where(RenderFinish.asset_id == asset.id,
                                   RenderFinish.owner_id == user.id,
                                   RenderFinish.callback_url.is_not(None))
        .order_by(RenderFinish.finished_at)
    ).scalars())
