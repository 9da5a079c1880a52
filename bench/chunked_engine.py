"""What rendering in pieces costs: one piece against N pieces rendered one after another.

    python -m bench.chunked_engine [--seconds 45] [--chunk-seconds 10] [--runs 3]
                                   [--source-keyframes 2]

1. Makes a 1080p30 source under bench/out/chunked/ (a textured picture panning a few
   pixels a frame, so motion search and the encoder work as on camera footage, with a
   keyframe every --source-keyframes seconds; flat test colours would make encoding
   nearly free and every overhead look larger) and a music track.
2. In this one warmed-up process, `--runs` times, alternating which goes first: renders a
   --seconds 1080p30 mp4 edit (two clips of the source, the music under them) with
   render(), and the same edit as its plan_pieces pieces, each render_piece'd, the sound
   by render_audio, then join. It reads the process's CPU seconds (all threads) around
   each step.
3. Prints the medians: the CPU overhead of pieces, (pieces + sound + join) / one piece
   - 1 (goal <= 10 %), and the join's share of the total in pieces (goal <= 5 %). Both are
   CPU, not wall time: the pieces run here one after another; on a farm they run at once.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.edit import parse_edit  # noqa: E402
from tests.fixtures.mediakit import make_audio  # noqa: E402
from worker.render import (join, plan, plan_pieces, render, render_audio,  # noqa: E402
                           render_piece)

OUT = REPO / "bench" / "out" / "chunked"
SIZE = (1920, 1080)
FPS = 30


def make_panning_video(path: Path, seconds: float, keyframe_seconds: float, *,
                       seed: int = 7, tone_hz: float = 440, bframes: int = 0) -> Path:
    """1080p30: a window moving over a large smoothed-noise texture, with a tone; `bframes`
    B-frames between references, as cameras write them."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (SIZE[1] // 8 + 40, SIZE[0] // 8 + 80, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)  # 8x8 blocks of colour
    texture = (texture.astype(np.int16) + rng.integers(-12, 12, texture.shape)).clip(0, 255)
    texture = texture.astype(np.uint8)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = Fraction(1, FPS)
        video.codec_context.gop_size = round(keyframe_seconds * FPS)
        video.options = {"preset": "ultrafast", "crf": "20"} if not bframes else {
            "preset": "superfast", "crf": "20", "x264-params": f"bframes={bframes}"}
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for k in range(round(seconds * FPS)):
            x, y = (3 * k) % 600, (k // 2) % 300
            window = np.ascontiguousarray(texture[y:y + SIZE[1], x:x + SIZE[0]])
            frame = av.VideoFrame.from_ndarray(window, format="rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        t = np.arange(round(seconds * 48000)) / 48000
        wave = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
        for start in range(0, wave.size, 4800):
            block = np.ascontiguousarray(np.tile(wave[start:start + 4800], (2, 1)))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    partial.rename(path)
    return path


def edit_for(seconds: float, video_id: str, music_id: str):
    half = seconds / 2
    clip = lambda start: {"video_id": video_id, "type": "videofile",  # noqa: E731
                          "video_start_time": start, "video_end_time": start + half,
                          "audio_levels": [], "crop": None}
    body = {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": "1920x1080", "video_output_fps": FPS,
            "video_output_filename": "out.mp4", "skip_rendering": False,
            "video_series_sequential": [clip(1.0), clip(2.5)],
            "audio_overlay": [{"audio_id": music_id, "type": "music",
                               "audio_levels": [{"audio_level": 0.5, "start_time": None,
                                                 "end_time": None}]}],
            "subtitles": False, "auto_vertical_crop": None}
    return parse_edit(body)[0]


def cpu_of(step):
    """(CPU seconds of this process, all threads; wall seconds; the step's result)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = step()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def one_piece(edit, sources, folder: Path) -> dict:
    cpu, wall, _ = cpu_of(lambda: render(edit, sources, str(folder / "whole.mp4"),
                                         encoder="cpu"))
    return {"cpu": cpu, "wall": wall}


def in_pieces(edit, sources, folder: Path, chunk_seconds: float) -> dict:
    timeline, _ = plan(edit, sources)
    spans, _ = plan_pieces(timeline, chunk_seconds)
    pieces, piece_cpu, piece_wall = [], 0.0, 0.0
    for span in spans:
        path = str(folder / f"piece{span.index}.mp4")
        cpu, wall, _ = cpu_of(lambda: render_piece(edit, sources, span, path, timeline=timeline))
        pieces.append(path)
        piece_cpu, piece_wall = piece_cpu + cpu, piece_wall + wall
    sound_cpu, sound_wall, sound = cpu_of(
        lambda: render_audio(edit, sources, str(folder / "sound.m4a"), timeline=timeline))
    join_cpu, join_wall, joined = cpu_of(
        lambda: join(pieces, spans, sound.output, str(folder / "joined.mp4"), "mp4",
                     timeline.fps))
    assert joined.frames == timeline.frame_count
    return {"pieces": len(spans), "piece_cpu": piece_cpu, "sound_cpu": sound_cpu,
            "join_cpu": join_cpu, "cpu": piece_cpu + sound_cpu + join_cpu,
            "wall": piece_wall + sound_wall + join_wall, "join_wall": join_wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chunked_engine")
    parser.add_argument("--seconds", type=float, default=45, help="the edit's length")
    parser.add_argument("--chunk-seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source-keyframes", type=float, default=2,
                        help="seconds between the source's keyframes")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    source_seconds = args.seconds / 2 + 3
    video = make_panning_video(
        OUT / f"pan_{source_seconds:g}s_gop{args.source_keyframes:g}.mp4", source_seconds,
        args.source_keyframes)
    music = OUT / "music.m4a"
    if not music.exists():
        make_audio(music, duration=30, tone_hz=1000)
    video_id, music_id = str(uuid.uuid4()), str(uuid.uuid4())
    edit = edit_for(args.seconds, video_id, music_id)
    sources = {video_id: str(video), music_id: str(music)}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        folder = Path(tmp)
        render(edit, sources, str(folder / "warm.mp4"))  # imports and first-use costs
        whole, pieced = [], []
        for run in range(args.runs):
            order = [0, 1] if run % 2 == 0 else [1, 0]
            for which in order:
                if which == 0:
                    whole.append(one_piece(edit, sources, folder))
                else:
                    pieced.append(in_pieces(edit, sources, folder, args.chunk_seconds))
            print(f"run {run + 1}: one piece {whole[-1]['cpu']:.1f} s CPU "
                  f"({whole[-1]['wall']:.1f} s wall); {pieced[-1]['pieces']} pieces "
                  f"{pieced[-1]['piece_cpu']:.1f} + sound {pieced[-1]['sound_cpu']:.2f} + "
                  f"join {pieced[-1]['join_cpu']:.2f} = {pieced[-1]['cpu']:.1f} s CPU "
                  f"({pieced[-1]['wall']:.1f} s wall)", flush=True)
    median = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    overhead = statistics.median(c["cpu"] / w["cpu"] - 1 for c, w in zip(pieced, whole))
    share = statistics.median(c["join_cpu"] / c["cpu"] for c in pieced)
    wall_share = statistics.median(c["join_wall"] / c["wall"] for c in pieced)
    print(f"{args.seconds:g} s 1080p30 edit, pieces of ~{args.chunk_seconds:g} s, source "
          f"keyframes every {args.source_keyframes:g} s, {args.runs} runs (medians):")
    print(f"  one piece: {median(whole, 'cpu'):.1f} s CPU; in pieces: "
          f"{median(pieced, 'cpu'):.1f} s CPU (join {median(pieced, 'join_cpu'):.2f} s)")
    print(f"  CPU overhead of pieces: {overhead:+.1%} (goal <= +10 %)")
    print(f"  join's share of the total in pieces: {share:.1%} CPU, {wall_share:.1%} wall "
          f"(goal <= 5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
