"""The Canopy HTTP API: a Flask app factory with one blueprint per resource."""
from __future__ import annotations

import redis
from flask_openapi3 import Info
from flask_openapi3.models import Schema

from shared import finishes, logs
from shared import waiting_jobs  # noqa: F401  its after-commit listener: see create_app
from shared.config import Settings
from shared.db import Database
from shared.edit import VideoEdit
from shared.events import Announcer
from shared.queue import make_celery
from shared.storage import open_storage

from . import auth, body, errors, metrics
from .context import Services, close_session
from .events import Hub
from .openapi import CanopyOpenAPI
from .schemas import ValidationErrorOut

SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}


def create_app(settings: Settings | None = None) -> CanopyOpenAPI:
    settings = settings or Settings.from_env()
    app = CanopyOpenAPI(
        __name__,
        info=Info(title="Canopy", version="1.0", description="A Video-Jungle-compatible render farm"),
        doc_prefix="/docs",
        validation_error_status=422,
        validation_error_model=ValidationErrorOut,
        validation_error_callback=errors.validation_error_response,
        security_schemes=SECURITY_SCHEMES,
    )
    # No SECRET_KEY: the API has no cookie sessions (callers send keys; stored objects' links are
    # signed by the storage with settings.secret_key), so Flask opens and signs none per request.
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
    )
    db = Database(settings.database_url, settings.db_idle_transaction_seconds)
    Announcer(settings.redis_url).attach(db)  # status events of the rows requests change
    services = Services(
        settings=settings,
        db=db,
        storage=open_storage(settings),
        celery=make_celery(settings),
        redis=redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
        events=Hub(settings.redis_url, db, keepalive=settings.events_keepalive_seconds,
                   per_user=settings.streams_per_user),
    )
    app.extensions["canopy"] = services
    # A cancel of a queued render sends its webhook, and the renders that waited for it as a
    # source are settled (shared/waiting_jobs.py), once its commit is done.
    finishes.use_celery(services.celery)
    app.teardown_appcontext(close_session)
    errors.init_app(app)
    metrics.init_app(app)  # before auth: refused requests are counted too
    body.init_app(app)
    auth.init_app(app)
    _register_blueprints(app)
    logs.configure(settings.log_format)
    return app


def _register_blueprints(app: CanopyOpenAPI) -> None:
    from .routes import (assets, collaborators, edits, farm, files, health, metrics, projects,
                         prompts, scripts, ui, users, video_files, webhooks)

    for module in (health, projects, prompts, scripts, users, video_files, assets, edits,
                   collaborators, farm, webhooks):
        app.register_api(module.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(metrics.bp)
    # Models that views parse themselves (the edit) bring their nested definitions here.
    for name, schema in body.component_schemas(VideoEdit).items():
        app.components_schemas[name] = Schema(**schema)
