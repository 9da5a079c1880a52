"""gunicorn settings for the API, read from the working directory by `gunicorn api.wsgi:app`.

The worker processes count HTTP requests in prometheus_client's multiprocess mode, in a
folder of this master's own (made fresh here, so a restart starts from zero counts as a
Prometheus counter reset should). It must be named before prometheus_client is imported:
the workers are forked from this process (and why this file is not inside `api/`, whose
import would bring prometheus_client first).
"""
import os
import shutil
import tempfile
from pathlib import Path

_made = None
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the operator's folder: emptied at start
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()
else:
    _made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="canopy-metrics-")

from prometheus_client import multiprocess  # noqa: E402

if os.environ.get("CANOPY_LOG_FORMAT", "").strip().lower() == "json":
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
