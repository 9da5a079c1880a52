"""gunicorn's `gthread` worker, whose event streams leave their request thread.

gunicorn.conf.py names it (`worker_class`). Its app is wrapped so that a view may learn
(environ[HANDOFF]) that its stream can be handed over; the view then answers the headers and
the first event only, gunicorn writes them, and the wrapper gives the socket to the process's
`StreamLoop` (api/streamloop.py), telling gunicorn's response to end without its closing
chunk and this worker to forget the connection (no close, no keep-alive). The thread is
free again at once.

Not over TLS or HTTP/2 served by gunicorn itself (their sockets cannot be handed over like
this): there, streams stay in threads (`Hub.max_threaded`).
"""
from __future__ import annotations

import resource

from gunicorn.http.wsgi import Response
from gunicorn.workers.gthread import ThreadWorker

from .streamloop import loop_of
from .streams import HANDOFF, STREAM


class StreamWorker(ThreadWorker):
    def init_process(self):
        self._handed_off: set = set()  # sockets the loop owns: gunicorn forgets them
        # Each idle stream is an open file: allow as many as the system lets this process.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            if soft < hard or hard == resource.RLIM_INFINITY:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # e.g. no unlimited files: max_streams follows the soft
            pass
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        if not self.cfg.is_ssl:
            self.wsgi = _HandingOver(self.wsgi, self._handed_off)

    def run(self):
        super().run()
        # Stopping: the hub has ended every stream (gunicorn.conf.py's SIGTERM handler); give
        # the loop a moment to write their last chunk, so clients see an end, not a cut.
        hub = getattr(self.wsgi, "extensions", {}).get("canopy")
        loop = getattr(getattr(hub, "events", None), "stream_loop", None)
        if loop is not None:
            loop.wait_empty(min(2.0, self.cfg.graceful_timeout))

    def finish_request(self, conn, fs):
        if conn.sock in self._handed_off:
            self._handed_off.discard(conn.sock)
            self.nr_conns -= 1
            return
        super().finish_request(conn, fs)


class _HandingOver:
    """The WSGI app, handing each stream that it opened over to the stream loop."""

    def __init__(self, app, handed_off: set):
        self.app, self.handed_off = app, handed_off

    def __getattr__(self, name):  # the Flask app's own attributes (extensions...)
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        response = getattr(start_response, "__self__", None)
        if type(response) is not Response:  # HTTP/2, or another server's
            return self.app(environ, start_response)
        environ[HANDOFF] = True
        body = self.app(environ, start_response)
        stream = environ.get(STREAM)
        if stream is None:
            return body
        return self._streaming(body, stream, response, environ["gunicorn.socket"])

    def _streaming(self, body, stream, response, sock):
        response.force_close()  # "Connection: close": the stream ends the connection
        try:
            yield from body  # the headers and the first event, written by gunicorn
            if response.status_code == 200 and not stream.done:
                chunked, response.chunked = response.chunked, False  # no closing chunk
                self.handed_off.add(sock)
                loop_of(stream.hub).adopt(sock, stream, chunked)
        finally:
            if hasattr(body, "close"):
                body.close()  # the view's teardown; frees the slot unless the loop took it
