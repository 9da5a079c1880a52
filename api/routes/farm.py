"""The farm page's data: `GET /farm`, for every signed-in user."""
from __future__ import annotations

import threading
import time

from flask_openapi3 import APIBlueprint, Tag

from shared.models import utcnow
from shared.queue import BrokerView, broker_view

from ..auth import current_user
from ..context import get_session, get_settings, services
from ..schemas.farm import FarmOut
from ..services import farm as service

bp = APIBlueprint("farm", __name__, abp_tags=[Tag(name="farm")])

# Workers answer a broadcast within this; a process asks the broker at most once per TTL,
# however many pages poll it.
WORKER_ANSWER_SECONDS = 0.5
BROKER_TTL_SECONDS = 2.0


class BrokerCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._view: BrokerView | None = None
        self._until = 0.0

    def get(self, celery) -> BrokerView:
        with self._lock:  # one broadcast at a time; the others reuse its answer
            if self._view is None or time.monotonic() >= self._until:
                self._view = broker_view(celery, WORKER_ANSWER_SECONDS)
                self._until = time.monotonic() + self.ttl
            return self._view


_broker = BrokerCache(BROKER_TTL_SECONDS)


@bp.get("/farm", responses={200: FarmOut})
def farm():
    """Queue depths, live workers, running renders and recent failures (others' anonymised)."""
    view = service.farm_view(get_session(), current_user().id, _broker.get(services().celery),
                             utcnow(), get_settings().render_cache_bytes)
    return view.model_dump()
