"""gunicorn settings for the API, read from the working directory by `gunicorn api.wsgi:app`.

Event streams (`GET /assets/{id}/events`) stay open for a whole render. The worker is
`gthread` with one change (`api.streamworker.StreamWorker`): once a stream's headers and
first event are written, its socket leaves the request thread for the process's one stream
loop, a selector thread that holds every idle stream (api/streamloop.py). So a stream costs a
socket, not a thread, and the threads stay for requests. gevent was not chosen: psycopg's
C-level waits and SQLite's busy waits would stall a whole process. Where gunicorn itself
serves TLS or HTTP/2, streams stay in threads, at most `threads - STREAM_RESERVE` of them.
Command-line flags and GUNICORN_CMD_ARGS override these.

The worker processes count HTTP requests in prometheus_client's multiprocess mode, in a
folder of this master's own (made fresh here, so a restart starts from zero counts as a
Prometheus counter reset should). It must be named before prometheus_client is imported:
the workers are forked from this process (and why this file is not inside `api/`, whose
import would bring prometheus_client first).
"""
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

worker_class = "api.streamworker.StreamWorker"  # imported once the folder below is named
workers = 2
threads = 64
STREAM_RESERVE = 32  # threads of a process that streams never take (TLS or HTTP/2 only)
FILES_KEPT = 256  # open files of a process that streams never take (database, Redis, logs)

_made = None
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the operator's folder: emptied at start
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()
else:
    _made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="canopy-metrics-")

from gunicorn.glogging import Logger  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from shared.config import Settings  # noqa: E402
from shared.logs import Redacting, redact  # noqa: E402


class RedactingLogger(Logger):
    """gunicorn's logger whose lines show signed links without their signatures
    (shared.logs.SECRET_PARAMS): the access line's request line, query string, referer and
    headers, and the error log's messages ("Error handling request /files/...")."""

    def setup(self, cfg):
        super().setup(cfg)
        if not any(isinstance(f, Redacting) for f in self.error_log.filters):
            self.error_log.addFilter(Redacting())

    def atoms(self, resp, req, environ, request_time):
        return {name: redact(value) if isinstance(value, str) else value
                for name, value in super().atoms(resp, req, environ, request_time).items()}


logger_class = RedactingLogger

if Settings.from_env().log_format == "json":
    # gunicorn's own lines (boot, workers, the access log) as JSON too; the root logger is
    # left to the app (shared.logs.configure), so its lines are not printed twice.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},
        "formatters": {"json": {"()": "shared.logs.JsonFormatter"}},
        "handlers": {
            "error": {"class": "logging.StreamHandler", "formatter": "json",
                      "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "json",
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made:
        shutil.rmtree(_made, ignore_errors=True)


def post_worker_init(worker):
    """Tell this process's event hub how many streams it may hold; make SIGTERM also end
    them at once (their clients reconnect): else a graceful stop waits `graceful_timeout`
    for streams that never end."""
    import resource

    canopy = getattr(worker.wsgi, "extensions", {}).get("canopy")
    hub = getattr(canopy, "events", None)
    if hub is None:
        return
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # raised by the worker if it could
    if files != resource.RLIM_INFINITY:
        hub.max_streams = max(0, min(hub.max_streams, files - FILES_KEPT))
    hub.max_threaded = max(0, worker.cfg.threads - STREAM_RESERVE)
    begin_stop = worker.handle_exit

    def handle_exit(sig, frame):
        begin_stop(sig, frame)
        threading.Thread(target=hub.close, daemon=True).start()  # a handler must not wait for a lock

    signal.signal(signal.SIGTERM, handle_exit)
