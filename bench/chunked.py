"""One render in pieces on two single-core workers vs in one piece on one, same farm, same run.

    .venv/bin/python -m bench.chunked [--seconds 120] [--resolution 1920x1080] [--chunk 30]

Two workers, each pinned to one core (`taskset -c 0`, `taskset -c 1`, concurrency 1). The
same edit renders first in one piece (chunk_seconds 0: one worker works), then in pieces of
`--chunk` seconds (both work, then one joins). Printed: both wall times and their ratio
(goal ≤ 0.6), the join's share of the wall time in pieces (goal ≤ 5 %; from the last piece
stored to the asset uploaded), and the CPU time both workers spent on each render, whose
difference is the total overhead of pieces (goal ≤ 10 %). The machine's load is printed
too: other work on these cores shows in every figure.
"""
from __future__ import annotations

import argparse
import os
import time

import psutil
from sqlalchemy import func, select

from bench.chunked_engine import OUT, make_panning_video
from bench.farm import bench_farm, pin_workers, upload_video
from shared.db import Database
from shared.models import Asset, RenderJob, RenderPiece
from tests.fixtures.livesrv import Worker, wait_for


def edit(source: str, seconds: int, resolution: str, chunk: float) -> dict:
    return {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": resolution, "video_output_fps": 30,
            "video_output_filename": "bench.mp4", "audio_overlay": [],
            "video_series_sequential": [{"video_id": source, "type": "videofile",
                                         "video_start_time": 0, "video_end_time": seconds}],
            "render_options": {"chunk_seconds": chunk}}


def cpu_seconds(workers: list[Worker]) -> float:
    """User + system time of every process of the workers (parents and pool children)."""
    total = 0.0
    for worker in workers:
        parent = psutil.Process(worker.proc.pid)
        for proc in [parent, *parent.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def render(api, project: str, body: dict, workers: list[Worker]) -> tuple[str, float, float]:
    """(asset id, wall seconds, worker CPU seconds) of one render, waited for."""
    cpu, start = cpu_seconds(workers), time.monotonic()
    asset = api("POST", f"/projects/{project}/create-edit", json=body).json()["asset_id"]
    status = wait_for(lambda: (lambda s: s if s["status"] in ("uploaded", "failed") else None)(
        api("GET", f"/assets/{asset}/status").json()), 3600, "the render", interval=0.1)
    wall = time.monotonic() - start
    if status["status"] != "uploaded":
        raise SystemExit(f"the render failed: {status['error']}")
    return asset, wall, cpu_seconds(workers) - cpu


def join_seconds(database_url: str, asset_id: str) -> float:
    """From the last piece stored to the asset finalized (the join, and its upload)."""
    with Database(database_url).session() as session:
        job = session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()
        last_piece = session.execute(select(func.max(RenderPiece.updated_at))
                                     .where(RenderPiece.job_id == job.id)).scalar_one()
        finalized = session.get(Asset, asset_id).updated_at
    return (finalized - last_piece).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--resolution", default="1920x1080")
    parser.add_argument("--chunk", type=float, default=30.0, help="chunk_seconds of the pieces")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs")
    with bench_farm(workers=0) as (farm, api):
        pin_workers(farm)
        # Camera-like pictures (a panning texture, keyframes every 2 s): flat test colours
        # would make encoding nearly free and every overhead look larger.
        OUT.mkdir(parents=True, exist_ok=True)
        source = upload_video(api, make_panning_video(
            OUT / f"farm-source-{args.seconds + 1}s.mp4", args.seconds + 1, keyframe_seconds=2))
        project = api("POST", "/projects", json={"name": "bench", "description": "in pieces"}).json()["id"]
        body = lambda chunk: edit(source, args.seconds, args.resolution, chunk)  # noqa: E731
        _, whole_wall, whole_cpu = render(api, project, body(0), farm.workers)
        asset, pieces_wall, pieces_cpu = render(api, project, body(args.chunk), farm.workers)
        pieces = api("GET", f"/assets/{asset}/status").json()["pieces"]
        join = join_seconds(farm.settings.database_url, asset)
    ratio, share = pieces_wall / whole_wall, join / pieces_wall
    overhead = pieces_cpu / whole_cpu - 1
    print(f"{args.seconds} s at {args.resolution}, 30 fps; two workers on one core each")
    print(f"one piece:  {whole_wall:7.1f} s wall, {whole_cpu:7.1f} s CPU")
    print(f"{pieces['total']} pieces:  {pieces_wall:7.1f} s wall, {pieces_cpu:7.1f} s CPU "
          f"(chunk_seconds {args.chunk:g})")
    print(f"ratio in pieces/one piece: {ratio:.2f} (goal ≤ 0.6: {'met' if ratio <= 0.6 else 'NOT met'})")
    print(f"join (last piece stored → uploaded): {join:.1f} s, {share:.1%} of the wall time "
          f"in pieces (goal ≤ 5 %: {'met' if share <= 0.05 else 'NOT met'})")
    print(f"CPU overhead of pieces: {overhead:+.1%} (goal ≤ 10 %: "
          f"{'met' if overhead <= 0.10 else 'NOT met'})")
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
