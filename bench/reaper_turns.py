"""The farm's reaping against its number of workers: reaper rounds a second, and the
database time they take, with 1, 2 and 8 worker processes reaping the same farm.

    .venv/bin/python -m bench.reaper_turns [--workers 1,2,8] [--seconds 20] [--interval 1]
                                           [--database sqlite|postgresql]

Each worker process runs a worker's reaper thread alone (tests/fixtures/reaper_child.py,
which logs each round it runs) against one database and one Redis. Each count runs twice: every worker
reaping each interval (as before the turns: NO_TURNS=1), then taking turns. Goal: with turns,
about 1/interval rounds a second whatever the number of workers.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.farm import DATABASES, database
from shared.config import Settings
from tests.fixtures.livesrv import RedisServer, settings_env


def run(workers: int, seconds: float, interval: int, url: str, folder: Path,
        turns: bool = True) -> tuple[float, float]:
    """(rounds a second, database seconds a second) of `workers` reapers over `seconds`."""
    redis = RedisServer(folder)
    redis.start()
    log_path = folder / "rounds.jsonl"
    env = settings_env(Settings(database_url=url, redis_url=redis.url,
                                storage_url=f"file://{folder / 'objects'}", secret_key="bench",
                                reap_interval_seconds=interval))
    env["NO_TURNS"] = "0" if turns else "1"
    children = [subprocess.Popen([sys.executable, "-m", "tests.fixtures.reaper_child", str(log_path),
                                  str(folder / "never")], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        time.sleep(3 * interval + 5)  # started, imported, the first rounds behind them
        start = time.time()
        time.sleep(seconds)
        end = time.time()
    finally:
        for child in children:
            child.kill()
            child.wait()
        redis.stop()
    rounds = []
    for line in log_path.read_text().splitlines() if log_path.exists() else []:
        try:
            rounds.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a process killed while writing it
            pass
    inside = [r for r in rounds if start <= r["start"] < end]
    return len(inside) / seconds, sum(r["end"] - r["start"] for r in inside) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2,8")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=int, default=1)
    parser.add_argument("--database", choices=DATABASES, default="sqlite")
    args = parser.parse_args()
    print(f"interval {args.interval} s, {args.database}, {args.seconds:.0f} s each")
    print("| workers | rounds/s, every worker reaps | time in rounds, s/s | rounds/s, turns "
          "| time in rounds, s/s | load |")
    print("|---:|---:|---:|---:|---:|---:|")
    for workers in (int(w) for w in args.workers.split(",")):
        figures = []
        for turns in (False, True):
            with tempfile.TemporaryDirectory(prefix="canopy-turns-") as tmp, \
                    database(args.database, Path(tmp)) as url:
                figures += run(workers, args.seconds, args.interval, url, Path(tmp), turns)
        print(f"| {workers} | {figures[0]:.2f} | {figures[1]:.4f} | {figures[2]:.2f} | "
              f"{figures[3]:.4f} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
