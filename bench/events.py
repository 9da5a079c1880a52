"""Event streams against normal requests: p99 of `GET /assets/{id}/status` with and without
2,000 open `GET /assets/{id}/events` streams held by one API process.

    .venv/bin/python -m bench.events [--streams 2000] [--active 0] [--processes 1]
                                     [--seconds 10] [--rounds 2] [--database postgresql]

A farm of its own (gunicorn.conf.py's server with `--processes` worker processes, private
Redis; no worker is needed). The streams watch 20 assets, spread evenly: with `--active 0`
(the default) nothing changes them, so the streams are idle and get only their keep-alive
comments; with `--active N`, a ticker thread writes progress to N assets twice a second
each and announces it, as rendering workers do, in both phases, and the streams watch
those. Pollers (4 threads, one keep-alive connection each) ask for the status of another
asset every 20 ms. Phases alternate (quiet, streams, quiet, streams...), so drift on the
shared machine hits both alike. Goal: p99 with the streams ≤ 2x p99 without.
"""
from __future__ import annotations

import argparse
import http.client
import os
import selectors
import socket
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import update

from bench.farm import DATABASES, bench_farm
from shared.db import Database
from shared.events import Announcer, media_changed
from shared.models import Asset

POLLERS = 4
POLL_EVERY = 0.02


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--active", type=int, default=0,
                        help="assets changing 2/s each, which the streams watch (0: idle streams)")
    parser.add_argument("--processes", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--keepalive", type=float, default=5.0,
                        help="CANOPY_EVENTS_KEEPALIVE (the default 15 s sends a third as many)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", choices=DATABASES, default="sqlite")
    args = parser.parse_args()
    os.environ["GUNICORN_CMD_ARGS"] = f"--workers {args.processes}"
    with bench_farm(workers=0, database_kind=args.database, streams_per_user=0,
                    events_keepalive_seconds=args.keepalive) as (farm, api):
        project = api("POST", "/projects", json={"name": "bench", "description": "events"}).json()["id"]
        assets = [new_asset(api, project) for _ in range(max(args.active, 20) + 1)]
        polled, watched = assets[0], assets[1:1 + (args.active or 20)]
        db = Database(farm.settings.database_url)
        Announcer(farm.settings.redis_url).attach(db)
        ticker = Ticker(db, watched) if args.active else None
        if ticker:
            ticker.start()
        key = api.headers["X-API-Key"]
        results = {"quiet": [], "streams": []}
        try:
            measure(farm.url, key, polled, 2)  # warm-up, unmeasured
            for _ in range(args.rounds):
                results["quiet"].append(measure(farm.url, key, polled, args.seconds))
                quiet_use = api_use(farm)
                streams = Streams(farm.url, key, [watched[i % len(watched)]
                                                  for i in range(args.streams)])
                try:
                    results["streams"].append(measure(farm.url, key, polled, args.seconds))
                    received, use = streams.events_per_stream(), api_use(farm)
                finally:
                    streams.close()
                print(f"  {args.streams} streams open: events received per stream "
                      f"min {min(received)}, median {statistics.median(received)}; "
                      f"keep-alives min {min(streams.keepalives.values())}; API processes: "
                      f"{quiet_use} without, {use} with the streams")
        finally:
            if ticker:
                ticker.stop()
            db.dispose()
    report(results, args.streams)


def api_use(farm) -> str:
    """Threads and resident memory of the gunicorn worker processes."""
    children = Path(f"/proc/{farm.server.proc.pid}/task/{farm.server.proc.pid}/children")
    figures = []
    for pid in children.read_text().split():
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                      .splitlines() if ":" in line)
        figures.append(f"{status['Threads'].strip()} threads, "
                       f"{int(status['VmRSS'].split()[0]) // 1024} MiB")
    return " + ".join(figures)


def new_asset(api, project: str) -> str:
    return api("POST", f"/projects/{project}/asset", json={
        "upload_method": "file-no-chunk", "asset_type": "user", "keyname": "a.mp4"}).json()["id"]


def measure(url: str, key: str, asset: str, seconds: float) -> list[float]:
    """Latencies (s) of polls of `asset` by POLLERS threads, each every POLL_EVERY s."""
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def poll():
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine, next_at = [], time.monotonic()
        while next_at < deadline:
            time.sleep(max(0.0, next_at - time.monotonic()))
            start = time.perf_counter()
            conn.request("GET", f"/assets/{asset}/status", headers={"X-API-Key": key})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"poll answered {response.status}")
            mine.append(time.perf_counter() - start)
            next_at += POLL_EVERY
        conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=poll) for _ in range(POLLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


class Ticker(threading.Thread):
    """Writes a new progress to each asset twice a second and announces it, as workers do."""

    def __init__(self, db: Database, assets: list[str]):
        super().__init__(daemon=True)
        self.db, self.assets = db, assets
        self.done = threading.Event()

    def run(self) -> None:
        step = 0
        while not self.done.wait(0.5 / len(self.assets)):
            asset = self.assets[step % len(self.assets)]
            with self.db.session() as session:
                session.execute(update(Asset).where(Asset.id == asset)
                                .values(progress=(step % 1000) / 1000))
                media_changed(session, asset)
            step += 1

    def stop(self) -> None:
        self.done.set()
        self.join()


class Streams:
    """Open event streams, read by one thread with a selector (as cheap a client as can be)."""

    def __init__(self, url: str, key: str, assets: list[str]):
        parts = urlsplit(url)
        self.selector = selectors.DefaultSelector()
        self.counts: dict[socket.socket, int] = {}
        self.keepalives: dict[socket.socket, int] = {}
        for asset in assets:
            sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
            sock.sendall(f"GET /assets/{asset}/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                         f"X-API-Key: {key}\r\nAccept: text/event-stream\r\n\r\n".encode())
            head = sock.recv(65536)
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"stream refused: {head[:200]!r}")
            sock.setblocking(False)
            self.counts[sock] = head.count(b"\nevent: ")
            self.keepalives[sock] = 0
            self.selector.register(sock, selectors.EVENT_READ)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.done.is_set():
            for key, _ in self.selector.select(0.2):
                data = key.fileobj.recv(65536)
                if not data:
                    raise SystemExit("a stream was closed by the server")
                self.counts[key.fileobj] += data.count(b"\nevent: ")
                self.keepalives[key.fileobj] += data.count(b": keep-alive")

    def events_per_stream(self) -> list[int]:
        return list(self.counts.values())

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        for sock in self.counts:
            self.selector.unregister(sock)
            sock.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(results: dict[str, list[list[float]]], streams: int) -> None:
    for name, runs in results.items():
        for i, run in enumerate(runs):
            print(f"{name:>8} round {i + 1}: {len(run)} polls, p50 {percentile(run, 0.5) * 1e3:.2f} ms, "
                  f"p99 {percentile(run, 0.99) * 1e3:.2f} ms")
    quiet = [s for run in results["quiet"] for s in run]
    loaded = [s for run in results["streams"] for s in run]
    ratio = percentile(loaded, 0.99) / percentile(quiet, 0.99)
    print(f"GET /assets/{{id}}/status p99: {percentile(quiet, 0.99) * 1e3:.2f} ms without streams, "
          f"{percentile(loaded, 0.99) * 1e3:.2f} ms with {streams} open; ratio {ratio:.2f} "
          f"(goal ≤ 2: {'met' if ratio <= 2 else 'NOT met'})")
    rounds = [percentile(b, 0.99) / percentile(a, 0.99)
              for a, b in zip(results["quiet"], results["streams"])]
    print(f"ratio per round: {', '.join(f'{r:.2f}' for r in rounds)}")


if __name__ == "__main__":
    main()
