"""gunicorn settings for the API: `gunicorn -c api/gunicorn_conf.py api.wsgi:app`.

Event streams (`GET /assets/{id}/events`) stay open for a whole render, each in a thread
that sleeps until its asset changes: the `gthread` worker with more threads per process
than the streams it accepts (`api.events.MAX_STREAMS`), so normal requests always find a
free thread. (gevent was not chosen: psycopg's C waits and SQLite's busy waits would block
a whole process.) Command-line flags and GUNICORN_CMD_ARGS override these.
"""
import signal
import threading

from api.events import MAX_STREAMS

worker_class = "gthread"
workers = 2
threads = MAX_STREAMS + 32
# Kept-alive idle connections wait in the poller, not in a thread.
worker_connections = 1000 + threads


def post_worker_init(worker):
    """SIGTERM also ends this process's event streams at once (their clients reconnect):
    else a graceful stop would wait `graceful_timeout` for streams that never end."""
    begin_stop = worker.handle_exit

    def handle_exit(sig, frame):
        begin_stop(sig, frame)
        canopy = getattr(worker.wsgi, "extensions", {}).get("canopy")
        if canopy is not None and canopy.events is not None:
            # From a thread: a signal handler must not wait for a lock.
            threading.Thread(target=canopy.events.close, daemon=True).start()

    signal.signal(signal.SIGTERM, handle_exit)
