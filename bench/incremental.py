"""Render only what changed: each render of an edit series timed against the cold render.

    .venv/bin/python -m bench.incremental [--minutes 10] [--chunk SECONDS] [--short-clips N]
                                          [--only SCENARIO,...] [--repeat PAIRS]

Two one-core workers, as bench/chunked.py has them, here two processes of the engine, each
pinned to one core (sched_setaffinity) and fed from one queue as the farm feeds its
workers: the sound first, then the pieces in order; the join in this process. A --minutes
1080p30 edit of 20 clips (camera-like sources: a panning texture, B-frames, AAC), pieces of
--chunk seconds (default: a clip's length, as 30 s clips in 30 s pieces at 10 minutes).

Figures, each a ratio to the cold render in the same run:
- cold: content-planned pieces against today's plan (balanced whole-GOP pieces, the
  encoder's own thread count) of the same edit: within 5 %; and against today's plan with
  the pinned thread count, which tells the plan's share from the threads'; --repeat pairs
  of cold and today's renders, alternating which goes first, give the median ratio;
- the same edit again, one clip's level changed, one clip near the start shortened: pieces
  looked up by piece_key in a local piece store (`PieceStore`, the engine side of the farm's
  render cache: a hit is used as it is, a miss rendered); the sound is mixed and the pieces
  joined each time. The farm's cache (owner's table, whole-edit reuse: "uploaded in <= 2 s")
  plugs in as another `PieceStore` (`lookup`/`keep`), see FARM_HOOK;
- the cold output used as a source, trimmed 5 s at each end: copied (piece_copy.py) against
  the same edit encoded (copy=False): <= 0.1, >= 90 % of frames copied;
- a preview of the cold edit: <= 0.3 of the cold final render;
- an edit of --short-clips clips of 1-3 s (100 at 10 minutes): the join <= 5 % of the
  render.
A reused piece is checked to be the same bytes as the same piece rendered anew.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import av

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.digests import file_sha256  # noqa: E402
from shared.edit import parse_edit  # noqa: E402
from worker.render import (PieceSpan, join, piece_key, piece_settings, plan,  # noqa: E402
                           plan_pieces, render_audio, render_piece)
from bench.chunked_engine import make_panning_video  # noqa: E402
from worker.render import piece_render  # noqa: E402
from worker.render.encode import gop_frames  # noqa: E402
from worker.render.probe import source_keyframes  # noqa: E402

OUT = REPO / "bench" / "out" / "incremental"
FPS, CLIPS = 30, 20
PINNED_THREADS = piece_render.PIECE_THREADS
FARM_HOOK = ("the farm's render cache (incr-cache) replaces PieceStore: submit each edit to "
             "a bench farm (bench/farm.py, two workers under taskset as bench/chunked.py) "
             "and time submit -> uploaded")


def edit_of(clips, resolution="1920x1080", **options) -> object:
    body = {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": resolution, "video_output_fps": FPS,
            "video_output_filename": "bench.mp4", "audio_overlay": [],
            "video_series_sequential": [
                {"video_id": sid, "type": "videofile", "video_start_time": start,
                 "video_end_time": end, "audio_levels": [{"audio_level": level}]}
                for sid, start, end, level in clips],
            "render_options": options or None}
    return parse_edit(body)[0]


# --- Two one-core workers ---------------------------------------------------------------

def _pin(cores) -> None:
    os.sched_setaffinity(0, {cores.get()})


def _piece_task(edit, sources, span, output, timeline, copy, threads):
    piece_render.PIECE_THREADS = threads  # today's: 0, the encoder's own (one on one core)
    result = render_piece(edit, sources, span, output, timeline=timeline, copy=copy)
    return result.copied


def _sound_task(edit, sources, output, timeline):
    return render_audio(edit, sources, output, timeline=timeline).output


class PieceStore:
    """Finished pieces by key, as a render cache keeps them: lookup (a hit) and keep."""

    def __init__(self, folder: Path):
        self.folder, self.paths = folder, {}

    def lookup(self, key):
        return self.paths.get(key) if key else None

    def keep(self, key, path: str) -> None:
        if key:
            self.paths[key] = shutil.copy(path, self.folder / f"{key}.mp4")


@dataclass
class Run:
    wall: float
    frames: int
    pieces: int
    rendered: int = 0  # pieces rendered (not found in the store)
    reused_frames: int = 0
    copied: int = 0
    join: float = 0.0
    output: str = ""
    spans: list = field(default_factory=list)
    keys: list = field(default_factory=list)


class Workers:
    """The pool of two one-core processes that render pieces and the sound."""

    def __init__(self, folder: Path):
        cores = get_context("fork").Queue()
        for core in sorted(os.sched_getaffinity(0))[:2]:
            cores.put(core)
        self.pool = ProcessPoolExecutor(2, mp_context=get_context("fork"), initializer=_pin,
                                        initargs=(cores,))
        self.folder = folder
        self.known = {}

    def keyframes(self, path):
        """The source's keyframes, found once (the farm's probe finds them at analysis)."""
        if path not in self.known:
            self.known[path] = source_keyframes(path)
        return self.known[path]

    def render(self, edit, sources, name, chunk, *, store=None, copy=True, todays=False,
               contents=None, threads=None) -> Run:
        # Each source's keyframes, as the farm's probe records them at its analysis.
        keyframes = {sid: self.keyframes(path) for sid, path in sources.items()}
        started = time.perf_counter()
        work = Path(tempfile.mkdtemp(dir=self.folder))
        timeline, _ = plan(edit, sources)
        spans = todays_plan(timeline, chunk) if todays else plan_pieces(
            timeline, chunk, contents=contents, keyframes=keyframes)[0]
        settings = piece_settings(edit, timeline)
        keys = [piece_key(timeline, s, settings, contents or {}) for s in spans]
        sound = self.pool.submit(_sound_task, edit, sources, str(work / "sound.m4a"), timeline)
        paths, jobs = [], {}
        for span, key in zip(spans, keys):
            found = store.lookup(key) if store else None
            paths.append(found or str(work / f"p{span.index}.mp4"))
            if not found:
                jobs[span.index] = self.pool.submit(
                    _piece_task, edit, sources, span, paths[-1], timeline, copy,
                    threads if threads is not None else 0 if todays else PINNED_THREADS)
        copied = sum(job.result() for job in jobs.values())
        sound_path = sound.result()
        joined_at = time.perf_counter()
        output = str(self.folder / f"{name}.mp4")
        join(paths, spans, sound_path, output, "mp4", timeline.fps)
        done = time.perf_counter()
        if store is not None:
            for span, key in zip(spans, keys):
                if span.index in jobs:
                    store.keep(key, paths[span.index])
        reused = sum(s.frames for s in spans if s.index not in jobs)
        return Run(done - started, timeline.frame_count, len(spans), len(jobs), reused, copied,
                   done - joined_at, output, spans, keys)


def todays_plan(timeline, chunk_seconds) -> list[PieceSpan]:
    """The plan before content planning: balanced pieces of whole GOPs of the output."""
    total, gop = timeline.frame_count, gop_frames(timeline.fps)
    piece = max(1, round(chunk_seconds * timeline.fps / gop)) * gop
    if total <= 2 * piece:
        return [PieceSpan(0, 0, total)]
    gops, count = -(-total // gop), max(2, round(total / piece))
    bounds = [gop * (gops * i // count) for i in range(count)] + [total]
    return [PieceSpan(i, a, b) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def line(name: str, run: Run, cold: Run, goal: str = "", extra: str = "") -> None:
    print(f"{name:<34} {run.wall:7.1f} s  {run.wall / cold.wall:5.2f} of cold  "
          f"{run.rendered:>3}/{run.pieces} pieces rendered  {extra}{goal}", flush=True)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# What runs after the cold render, in this order; `--only` picks some.
SCENARIOS = ("todays", "again", "level", "shortened", "trimmed", "preview", "short")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental")
    parser.add_argument("--minutes", type=float, default=10, help="the edit's length")
    parser.add_argument("--chunk", type=float, default=None,
                        help="chunk_seconds (default: a clip's length, at least 2)")
    parser.add_argument("--trim-chunk", type=float, default=None,
                        help="chunk_seconds of the trimmed render-as-source edit (default: "
                             "--chunk, at least 10: pieces of several of its source's GOPs)")
    parser.add_argument("--short-clips", type=int, default=None,
                        help="clips of 1-3 s in the last edit (default: 10 a minute, >= 10)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="todays: pairs of cold and today's renders, alternating which "
                             "goes first; the median of their ratios (default 1)")
    parser.add_argument("--only", type=lambda text: set(text.split(",")), default=set(SCENARIOS),
                        help="the scenarios to run after the cold render, comma-separated, of: "
                             + ", ".join(SCENARIOS) + " (default: all)")
    args = parser.parse_args(argv)
    unknown = args.only - set(SCENARIOS)
    if unknown:
        parser.error(f"--only: no scenario {', '.join(sorted(unknown))}")
    clip_s = args.minutes * 60 / CLIPS
    chunk = args.chunk or max(2.0, clip_s)
    OUT.mkdir(parents=True, exist_ok=True)
    source_s = 2 * clip_s + 8
    # Camera-like: a panning texture, x264 with B-frames, keyframes every 2 s; AAC.
    paths = [make_panning_video(OUT / f"camera{seed}_{source_s:g}s.mp4", source_s, 2,
                                seed=seed, tone_hz=330 + 110 * seed, bframes=3)
             for seed in (1, 2)]
    ids = [str(uuid.uuid4()) for _ in paths]
    sources = dict(zip(ids, map(str, paths)))
    contents = {sid: file_sha256(path) for sid, path in sources.items()}
    clips = [(ids[i % 2], 1 + (i % 3) * clip_s / 2, 1 + (i % 3) * clip_s / 2 + clip_s, 1.0)
             for i in range(CLIPS)]
    print(f"{args.minutes:g} min 1080p30 edit of {CLIPS} clips of {clip_s:g} s, pieces of "
          f"{chunk:g} s, two one-core workers; load before: {load()} on {os.cpu_count()} CPUs",
          flush=True)
    folder = Path(tempfile.mkdtemp(dir=OUT))
    workers = Workers(folder)
    try:
        store = PieceStore(folder)
        cold = workers.render(edit_of(clips), sources, "cold", chunk, store=store,
                              contents=contents)
        line("cold (content-planned)", cold, cold)
        if "todays" in args.only:
            todays_figure(workers, edit_of(clips), sources, chunk, contents, cold,
                          args.repeat)
            pinned = workers.render(edit_of(clips), sources, "todays_pinned", chunk, todays=True,
                                    threads=PINNED_THREADS)
            line("today's plan, threads pinned", pinned, cold, "(the plan's share of the above)",
                 f"cold/this {cold.wall / pinned.wall:.3f}  ")
        if "again" in args.only:
            again = workers.render(edit_of(clips), sources, "again", chunk, store=store,
                                   contents=contents)
            line("same edit again (engine)", again, cold, f"(farm: <= 2 s; {FARM_HOOK})")
        if "level" in args.only:
            level = [*clips]
            level[3] = (*level[3][:3], 0.5)
            changed = workers.render(edit_of(level), sources, "level", chunk, store=store,
                                     contents=contents)
            line("one clip's level changed", changed, cold, "(goal <= 0.15)")
        if "shortened" in args.only:
            shorter = [*clips]
            shorter[1] = (shorter[1][0], shorter[1][1], shorter[1][2] - clip_s / 3, 1.0)
            short = workers.render(edit_of(shorter), sources, "shortened", chunk, store=store,
                                   contents=contents)
            line("clip 1 shortened (later ones move)", short, cold,
                 "(goal <= 0.2, >= 90 % reused)",
                 f"{short.reused_frames / short.frames:.0%} frames reused  ")
            check_same_bytes(workers, edit_of(shorter), sources, short, chunk, contents)
        if "trimmed" in args.only:
            trimmed_figures(workers, cold, args.trim_chunk or max(chunk, 10.0))
        if "preview" in args.only:
            preview = workers.render(edit_of(clips, preview=True), sources, "preview", chunk)
            line("preview of the cold edit", preview, cold, "(goal <= 0.3)")
        if "short" in args.only:
            short_clips_figure(workers, ids, sources, chunk,
                               args.short_clips or max(10, round(10 * args.minutes)))
    finally:
        workers.pool.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load after: {load()}")
    return 0


def todays_figure(workers, edit, sources, chunk, contents, cold: Run, pairs: int) -> None:
    """Cold against today's plan, in `pairs` pairs whose order alternates (cold first in
    the first, today's first in the next...), so that a load drifting through the run
    weighs on both sides alike: each pair's ratio, and their median."""
    ratios = []
    for pair in range(pairs):
        if pair % 2:  # today's first
            todays = workers.render(edit, sources, "todays", chunk, todays=True)
            cold = workers.render(edit, sources, "cold_again", chunk, contents=contents)
        else:
            if pair:
                cold = workers.render(edit, sources, "cold_again", chunk, contents=contents)
            todays = workers.render(edit, sources, "todays", chunk, todays=True)
        ratios.append(cold.wall / todays.wall)
        line("today's plan (reference)", todays, cold, "(goal: cold within 5 % of it)",
             f"cold/today {ratios[-1]:.3f}  ")
    if pairs > 1:
        print(f"{'cold/today, median of ' + str(pairs) + ' pairs':<34} "
              f"{statistics.median(ratios):.3f}  (pairs: "
              f"{', '.join(f'{r:.3f}' for r in ratios)}; load {load()})", flush=True)


def check_same_bytes(workers, edit, sources, run: Run, chunk, contents) -> None:
    """A reused piece is the bytes a fresh render of it makes (the key holds everything)."""
    reused = [s for s, k in zip(run.spans, run.keys) if k][len(run.spans) // 2]
    timeline, _ = plan(edit, sources)
    fresh = str(workers.folder / "fresh.mp4")
    workers.pool.submit(_piece_task, edit, sources, reused, fresh, timeline, True,
                        PINNED_THREADS).result()
    kept = workers.folder / f"{run.keys[reused.index]}.mp4"
    same = Path(fresh).read_bytes() == kept.read_bytes()
    print(f"  piece {reused.index} rendered anew: {'the same bytes' if same else 'DIFFERENT'}")


def trimmed_figures(workers, cold: Run, chunk) -> None:
    """The cold output as a source, 5 s off each end: copied against encoded."""
    rid = str(uuid.uuid4())
    sources = {rid: cold.output}
    with av.open(cold.output) as container:
        length = float(container.duration / 1_000_000)
    trim = min(5.0, length / 8)
    edit = edit_of([(rid, trim, length - trim, 1.0)])
    encoded = workers.render(edit, sources, "trimmed_encoded", chunk, copy=False)
    copied = workers.render(edit, sources, "trimmed_copied", chunk)
    print(f"{'render as source, trimmed (copied)':<34} {copied.wall:7.1f} s  "
          f"{copied.wall / encoded.wall:5.2f} of its own cold render ({encoded.wall:.1f} s)  "
          f"{copied.copied / copied.frames:.0%} frames copied, {copied.pieces} pieces of "
          f"{chunk:g} s  (goal <= 0.1, >= 90 %)", flush=True)


def short_clips_figure(workers, ids, sources, chunk, count) -> None:
    rng = random.Random(5)
    clips = []
    for _ in range(count):
        start = rng.randrange(0, 40) / 10
        clips.append((rng.choice(ids), start, start + rng.randrange(10, 30) / 10, 1.0))
    run = workers.render(edit_of(clips), sources, "short_clips", chunk)
    print(f"{f'{count} clips of 1-3 s':<34} {run.wall:7.1f} s  {run.pieces} pieces  "
          f"join {run.join:.2f} s = {run.join / run.wall:.1%} of the render  (goal <= 5 %)",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
