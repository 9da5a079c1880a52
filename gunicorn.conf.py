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


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made:
        shutil.rmtree(_made, ignore_errors=True)
