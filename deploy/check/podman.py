"""Containers and loopback services for the deploy check, each named and labelled with the
run's id so that two checks on one machine never meet, and all removed at the end.

Containers run with --network host: PostgreSQL, Redis and moto's S3 server listen on
127.0.0.1 only, as the services of a one-machine deployment would.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from tests.fixtures.livesrv import RedisServer, free_port, wait_for

PG_ADMIN_URL = os.environ.get("CANOPY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LABEL = "canopy-deploy-check"


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S", time.gmtime()), "[deploy-check]", message,
          file=sys.stderr, flush=True)


def podman(*args: str, check: bool = True, timeout: float = 600) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}... exited {done.returncode}: "
                           f"{done.stderr.strip()[-2000:]}")
    return done.stdout


@dataclass
class Podman:
    """The run's containers and volumes, all of `image`."""
    image: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    killed: set[str] = field(default_factory=set)  # stopped on purpose: not a failure
    _checked: float = 0.0
    _undo: list = field(default_factory=list)  # what cleanup() also runs, last first

    def on_cleanup(self, undo) -> None:
        self._undo.append(undo)

    def name(self, role: str) -> str:
        return f"canopy-check-{self.run}-{role}"

    def _common(self, env_file: Path, volumes: dict[str, str]) -> list[str]:
        args = ["--network", "host", "--label", f"{LABEL}={self.run}", "--env-file", str(env_file)]
        for volume, path in volumes.items():
            args += ["-v", f"{volume}:{path}"]
        return args

    def once(self, env_file: Path, *command: str, volumes: dict[str, str] | None = None) -> str:
        """Runs `command` in a container to its end; its output."""
        return podman("run", "--rm", *self._common(env_file, volumes or {}), self.image, *command)

    def start(self, role: str, env_file: Path, *command: str, env: dict[str, str] | None = None,
              volumes: dict[str, str] | None = None) -> str:
        """A detached container named for `role` (also its hostname: the worker ids show it)."""
        name = self.name(role)
        extra = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        podman("run", "-d", "--name", name, "--hostname", name, *self._common(env_file, volumes or {}),
               *extra, self.image, *command)
        return name

    def volume(self, role: str) -> str:
        name = self.name(role)
        podman("volume", "create", "--label", f"{LABEL}={self.run}", name)
        return name

    def kill(self, name: str) -> None:
        self.killed.add(name)
        podman("kill", name)  # SIGKILL: the container's processes end at once

    def restart(self, name: str) -> None:
        podman("restart", "--time", "20", name)
        self.killed.discard(name)

    def wait_healthy(self, url: str, timeout: float = 240) -> None:
        def answers():
            self.guard()
            try:
                return requests.get(f"{url}/health", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, timeout, f"{url}/health", interval=0.5)

    def guard(self) -> None:
        """Fails at once (not at a wait's timeout) when a container of the run has stopped
        unasked; asks podman at most every 3 s."""
        if time.monotonic() - self._checked < 3:
            return
        self._checked = time.monotonic()
        names = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"label={LABEL}={self.run}",
                       "--filter", "status=exited").split()
        stopped = [name for name in names if name not in self.killed]
        if stopped:
            raise RuntimeError(f"containers stopped unasked: {stopped}")

    def dump_logs(self) -> None:
        """The last lines of every container of this run, for a failure's report."""
        names = podman("ps", "-a", "--format", "{{.Names}}", "--filter",
                       f"label={LABEL}={self.run}", check=False).split()
        for name in names:
            done = subprocess.run(["podman", "logs", "--tail", "40", name],
                                  capture_output=True, text=True)
            log(f"--- {name} ---\n{done.stdout}{done.stderr}")

    def cleanup(self) -> None:
        """Removes every pod, container and volume of this run, whatever state they are in."""
        while self._undo:
            self._undo.pop()()
        selector = f"label={LABEL}={self.run}"
        ids = podman("ps", "-a", "-q", "--filter", selector, check=False).split()
        if ids:
            podman("rm", "-f", "-t", "0", *ids, check=False)
        volumes = podman("volume", "ls", "-q", "--filter", selector, check=False).split()
        if volumes:
            podman("volume", "rm", "-f", *volumes, check=False)


@contextmanager
def postgres_database(run: str):
    """A new, empty PostgreSQL database (the migration container builds its schema)."""
    name = f"canopy_deploy_{run}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_server(folder: Path):
    server = RedisServer(folder)
    server.start()
    try:
        yield server.url.rsplit("/", 1)[0]
    finally:
        server.stop()


@contextmanager
def s3_server(run: str):
    """moto's S3 server on a free loopback port; a storage URL for a bucket of the run's."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield (f"s3://check:check-secret@{host}:{port}/canopy-check-{run}"
               "?secure=false&region=us-east-1&part_size=8388608")
    finally:
        server.stop()


def write_env(path: Path, env: dict[str, str]) -> Path:
    """An --env-file: KEY=VALUE lines, as the operator's canopy.env."""
    path.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return path
