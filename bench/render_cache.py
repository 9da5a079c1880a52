"""The render cache on a farm: incremental.py's cache scenarios submitted to a bench farm of
two one-core workers (as chunked.py has them), each timed from submit to `uploaded` and
printed as a ratio to the cold render of the same run.

    .venv/bin/python -m bench.render_cache [--minutes 10] [--resolution 1920x1080]

The edit: 20 clips of two camera-like sources (incremental.py's: a panning texture, x264
with 3 B-frames, keyframes every 2 s, AAC), pieces of a clip's length (30 s at 10 minutes).
- cold: every piece rendered, then kept as the owner's cache entries;
- the same edit again (another output file name): served from the cached output, goal
  `uploaded` in <= 2 s;
- one clip's audio level changed: every picture reused, the sound mixed, the join; goal
  <= 0.15 of cold;
- clip 1 shortened by a third (every later clip moves): goal <= 0.2 of cold, >= 90 % of
  the pieces reused.
"""
from __future__ import annotations

import argparse
import os

from bench.chunked import render
from bench.chunked_engine import make_panning_video
from bench.farm import bench_farm, pin_workers, upload_video
from bench.incremental import CLIPS, OUT


def edit_body(clips, resolution: str, chunk: float, filename: str = "bench.mp4") -> dict:
    return {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": resolution, "video_output_fps": 30,
            "video_output_filename": filename, "audio_overlay": [],
            "video_series_sequential": [
                {"video_id": sid, "type": "videofile", "video_start_time": start,
                 "video_end_time": end, "audio_levels": [{"audio_level": level}]}
                for sid, start, end, level in clips],
            "render_options": {"chunk_seconds": chunk}}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--resolution", default="1920x1080")
    args = parser.parse_args(argv)
    clip_s = args.minutes * 60 / CLIPS
    chunk = max(2.0, clip_s)
    source_s = 2 * clip_s + 8
    print(f"load before: {load()} on {os.cpu_count()} CPUs")
    OUT.mkdir(parents=True, exist_ok=True)
    paths = [make_panning_video(OUT / f"camera{seed}_{source_s:g}s.mp4", source_s, 2,
                                seed=seed, tone_hz=330 + 110 * seed, bframes=3)
             for seed in (1, 2)]
    with bench_farm(workers=0) as (farm, api):
        pin_workers(farm)
        ids = [upload_video(api, path) for path in paths]
        project = api("POST", "/projects", json={"name": "bench", "description": "cache"}).json()["id"]
        clips = [(ids[i % 2], 1 + (i % 3) * clip_s / 2, 1 + (i % 3) * clip_s / 2 + clip_s, 1.0)
                 for i in range(CLIPS)]
        level = [*clips]
        level[3] = (*level[3][:3], 0.5)
        shorter = [*clips]
        shorter[1] = (shorter[1][0], shorter[1][1], shorter[1][2] - clip_s / 3, 1.0)
        runs = [("cold", clips, "bench.mp4"), ("same edit again", clips, "again.mp4"),
                ("one clip's level changed", level, "bench.mp4"),
                ("clip 1 shortened (later ones move)", shorter, "bench.mp4")]
        print(f"{args.minutes:g} min at {args.resolution}, {CLIPS} clips, pieces of "
              f"{chunk:g} s; two workers on one core each")
        cold = None
        for name, edit, filename in runs:
            asset, wall, cpu = render(api, project, edit_body(edit, args.resolution, chunk,
                                                              filename), farm.workers)
            pieces = api("GET", f"/assets/{asset}/status").json()["pieces"]
            cold = cold or wall
            reused = (f"{pieces['reused']} of {pieces['total']} pieces reused" if pieces
                      else "served from the cached output")
            print(f"{name:36s} {wall:7.1f} s wall ({wall / cold:.3f} of cold), "
                  f"{cpu:6.1f} s CPU; {reused}; load {load()}")


if __name__ == "__main__":
    main()
