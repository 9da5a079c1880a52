"""Status polling: requests/s of `GET /assets/{id}` under gunicorn, against a bare "hello" route.

    .venv/bin/python -m bench.status_polling [--seconds 10] [--connections 16] [--rounds 2]

Both apps run under gunicorn with the Procfile's settings (gunicorn.conf.py) on loopback;
`wrk` (apt-get install wrk) drives each in turn, a round being one run of each. Goal: ratio ≥ 0.5
(best run against best run; each round's own ratio is printed too, as other load on the
machine shifts both sides of a round alike).
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.farm import DATABASES, bench_farm, upload_video
from shared.config import REPO_ROOT
from tests.fixtures.livesrv import free_port, wait_for
from tests.fixtures.mediakit import make_video

GUNICORN_FLAGS: list[str] = []  # gunicorn.conf.py, read from the working directory


def wrk(url: str, seconds: int, connections: int, key: str | None = None) -> float:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url]
    if key:
        cmd[1:1] = ["-H", f"X-API-Key: {key}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url} answered {errors.group(1)} errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def serve_hello():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                             *GUNICORN_FLAGS, "bench.hello_app:app"], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests

    def up():
        try:
            return requests.get(f"http://127.0.0.1:{port}/hello", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(up, 30, "hello app")
    return proc, f"http://127.0.0.1:{port}/hello"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", choices=DATABASES, default="sqlite",
                        help="the farm's database (postgresql: a new one on 127.0.0.1:5432)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp, bench_farm(database_kind=args.database) as (farm, api):
        source = upload_video(api, make_video(Path(tmp) / "s.mp4", size=(64, 36), duration=1.0))
        project = api("POST", "/projects", json={"name": "bench", "description": "poll"}).json()["id"]
        asset = api("POST", f"/projects/{project}/asset", json={
            "upload_method": "video-reference", "asset_type": "video-reference",
            "keyname": source, "description": ""}).json()["id"]
        hello, hello_url = serve_hello()
        try:
            results = {"hello": [], "asset": []}
            asset_url, key = f"{farm.url}/assets/{asset}", api.headers["X-API-Key"]
            # A warm-up of each, unmeasured: the first run after a server starts was 3x slower.
            wrk(hello_url, 2, args.connections)
            wrk(asset_url, 2, args.connections, key)
            for _ in range(args.rounds):  # alternate, so drift hits both alike
                results["hello"].append(wrk(hello_url, args.seconds, args.connections))
                results["asset"].append(wrk(asset_url, args.seconds, args.connections, key))
        finally:
            hello.terminate()
            hello.wait()
    best = {name: max(runs) for name, runs in results.items()}
    ratio = best["asset"] / best["hello"]
    print(f"GET /assets/{{id}}: {best['asset']:.0f} req/s; bare hello: {best['hello']:.0f} req/s; "
          f"ratio {ratio:.2f} (goal ≥ 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    print(f"runs: {results}")
    rounds = [a / h for h, a in zip(results["hello"], results["asset"])]
    print(f"ratio per round: {', '.join(f'{r:.2f}' for r in rounds)}; "
          f"median {statistics.median(rounds):.2f}")


if __name__ == "__main__":
    main()
