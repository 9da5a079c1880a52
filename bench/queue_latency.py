"""Queue latency: from POST create-edit to the job's `rendering`, on an idle farm.

    .venv/bin/python -m bench.queue_latency [--runs 30]

Goal: p50 ≤ 100 ms. Each render is tiny and waited for, so the farm is idle at each submit.
The reference is the same HTTP round trip on `GET /assets/{id}`, so the figure shows what
the queue adds on top of the API itself.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.farm import DATABASES, bench_farm, upload_video
from tests.fixtures.livesrv import wait_for
from tests.fixtures.mediakit import make_video


def tiny_edit(source: str) -> dict:
    return {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": "64x36", "video_output_fps": 10,
            "video_output_filename": "tiny.mp4", "audio_overlay": [],
            "video_series_sequential": [{"video_id": source, "type": "videofile",
                                         "video_start_time": 0, "video_end_time": 0.5,
                                         "audio_levels": []}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", choices=DATABASES, default="sqlite",
                        help="the farm's database (postgresql: a new one on 127.0.0.1:5432)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_farm(database_kind=args.database) as (farm, api):
        source = upload_video(api, make_video(Path(tmp) / "tiny.mp4", size=(64, 36), duration=1.0))
        project = api("POST", "/projects", json={"name": "bench", "description": "latency"}).json()["id"]
        latencies, round_trips = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            asset = api("POST", f"/projects/{project}/create-edit", json=tiny_edit(source)).json()["asset_id"]
            seen = wait_for(lambda: _status(api, asset) in ("rendering", "uploading", "uploaded") and
                            time.perf_counter(), 30, "rendering", interval=0.002)
            latencies.append((seen - start) * 1000)
            wait_for(lambda: _status(api, asset) == "uploaded", 60, "upload")
            t0 = time.perf_counter()
            _status(api, asset)
            round_trips.append((time.perf_counter() - t0) * 1000)
    p50, p90 = statistics.median(latencies), statistics.quantiles(latencies, n=10)[-1]
    rt = statistics.median(round_trips)
    print(f"submit → rendering over {args.runs} runs: p50 {p50:.1f} ms, p90 {p90:.1f} ms, "
          f"max {max(latencies):.1f} ms (goal p50 ≤ 100 ms: {'met' if p50 <= 100 else 'NOT met'})")
    print(f"reference: one GET /assets/{{id}} round trip p50 {rt:.1f} ms "
          f"(ratio submit→rendering / round trip: {p50 / rt:.1f})")


def _status(api, asset_id: str) -> str:
    return api("GET", f"/assets/{asset_id}/status").json()["status"]


if __name__ == "__main__":
    main()
