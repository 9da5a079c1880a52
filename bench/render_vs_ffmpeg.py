"""The render engine against the ffmpeg CLI on the same edit, and its memory on long renders.

    python -m bench.render_vs_ffmpeg [--quick] [--runs N] [--minutes 1,5,10]

1. Makes its media (1080p sources at 30, 25 and 29.97 fps, one mono 44.1 kHz, a still
   image, a music track) under bench/out/.
2. Renders a multi-clip 1080p30 mp4 edit (mixed sources, levels, a crop, an overlay) with
   `python -m worker.render` and the same edit with ffmpeg's filter_complex (imageio-ffmpeg's
   static binary), with the same encoder settings (libx264 veryfast CRF 23, keyframe every
   2 s, AAC 128 kb/s, +faststart), alternating, and prints the median wall-time ratio
   engine/ffmpeg (goal <= 0.85). Between them it times the engine in a process that has
   rendered before (as a Celery worker renders: no start-up) and the encoder floor: ffmpeg's
   libx264 alone, same settings, on the engine's finished frames read raw from disk: no
   render of this output can take less than its encoding.
3. Renders 1080p edits of several minutes (clips of the sources back to back, a looped
   overlay) and prints each render's peak RSS (goal <= 400 MB, flat in the length).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import imageio_ffmpeg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.mediakit import PALETTE, make_audio, make_image, make_video  # noqa: E402

OUT = REPO / "bench" / "out"
SIZE = (1920, 1080)
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def source_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{name}"))


def make_media(folder: Path, seconds: float) -> dict[str, Path]:
    """Sources of `seconds` each (made once, reused while the length is the same)."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {
        "a30": ("a30.mp4", lambda p: make_video(p, size=SIZE, fps=30, duration=seconds,
                                                tone_hz=440)),
        "b25": ("b25.mp4", lambda p: make_video(p, size=SIZE, fps=25, duration=seconds,
                                                tone_hz=660, colors_per_second=PALETTE[::-1])),
        "c2997": ("c2997.mov", lambda p: make_video(p, size=SIZE, fps=29.97, duration=seconds,
                                                    tone_hz=550, channels=1, sample_rate=44100)),
        "still": ("still.png", lambda p: make_image(p, (1280, 720), PALETTE[3])),
        "music": ("music.m4a", lambda p: make_audio(p, duration=min(seconds, 30), tone_hz=1000)),
    }
    paths = {}
    for name, (filename, make) in specs.items():
        path = folder / f"{seconds:g}s-{filename}"
        if not path.exists():  # made under a temporary name: an interrupted run leaves none
            partial = path.with_name(f"partial-{path.name}")
            make(partial)
            partial.rename(path)
        paths[name] = path
    return paths


def _clip(name, start, end, level=1.0, crop=None, kind="videofile"):
    return {"video_id": source_id(name), "type": kind, "video_start_time": start,
            "video_end_time": end, "crop": crop,
            "audio_levels": [{"audio_level": level, "start_time": None, "end_time": None}]}


def edit_body(clips, music_level=0.5, loop=False) -> dict:
    return {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": "1920x1080", "video_output_fps": 30,
            "video_output_filename": "bench.mp4", "video_series_sequential": clips,
            "audio_overlay": [{"audio_id": source_id("music"), "type": "music", "loop": loop,
                               "audio_levels": [{"audio_level": music_level}]}]}


def ratio_clips(scale: float) -> list[dict]:
    """Four clips: 30 fps, 25 fps with a crop, 29.97 mono 44.1 kHz, a still image."""
    return [_clip("a30", 0, 6 * scale, 0.5),
            _clip("b25", 2, 2 + 6 * scale, 0.7, crop={"zoom": 1.5, "position_x": 0.5,
                                                         "position_y": 0}),
            _clip("c2997", 1, 1 + 5 * scale, 1.0),
            _clip("still", 0, 3 * scale, 1.0, kind="image")]


def ffmpeg_command(clips: list[dict], paths: dict[str, Path], output: Path) -> list[str]:
    """The same edit as one ffmpeg filter_complex: trim by input seeking, fit or crop,
    concat, levels, the overlay mixed without normalization.

    It does the same work as the engine, no more: a still is decoded and scaled once and
    then repeated by the `loop` filter (`-loop 1` on the input would decode and scale it
    again for every output frame: 1.2 s of CPU for 3 s here), and a crop is cut from
    the source before it is scaled (scaling the whole picture up first and cropping after
    cost 0.3 s more for 6 s here)."""
    args, parts, labels = [FFMPEG, "-y", "-loglevel", "error"], [], []
    names = {source_id(n): n for n in paths}
    fit = ("scale=1920:1080:force_original_aspect_ratio=decrease,"
           "pad=1920:1080:(ow-iw)/2:(oh-ih)/2")
    audio = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
    for i, clip in enumerate(clips):
        name = names[clip["video_id"]]
        start, end = clip["video_start_time"], clip["video_end_time"]
        still = clip["type"] == "image"
        if still:
            args += ["-i", str(paths[name])]
            parts.append(f"anullsrc=r=48000:cl=stereo,atrim=0:{end - start}[a{i}]")
        else:
            args += ["-ss", f"{start}", "-t", f"{end - start}", "-i", str(paths[name])]
            parts.append(f"[{i}:a]{audio},volume={clip['audio_levels'][0]['audio_level']}[a{i}]")
        crop = clip.get("crop")
        geometry = fit
        if crop:  # the window of a 16:9 source zoomed by z, moved by position x margin
            z, px, py = crop["zoom"], crop["position_x"], crop["position_y"]
            geometry = (f"crop=w=iw/{z}:h=ih/{z}:x=(iw-ow)/2*(1+{px}):y=(ih-oh)/2*(1+{py})"
                        f":exact=1,scale=1920:1080")
        timing = "fps=30"
        if still:  # one picture, repeated: n frames at 30 fps
            timing = (f"loop=loop={round((end - start) * 30) - 1}:size=1:start=0,"
                      f"settb=1/30,setpts=N")
        parts.append(f"[{i}:v]{geometry},setsar=1,format=yuv420p,{timing}[v{i}]")
        labels.append(f"[v{i}][a{i}]")
    music = len(clips)
    total = sum(c["video_end_time"] - c["video_start_time"] for c in clips)
    args += ["-i", str(paths["music"])]
    parts.append(f"{''.join(labels)}concat=n={len(clips)}:v=1:a=1[v][a]")
    parts.append(f"[{music}:a]{audio},volume=0.5[m]")
    parts.append("[a][m]amix=inputs=2:duration=first:normalize=0[aout]")
    args += ["-filter_complex", ";".join(parts), "-map", "[v]", "-map", "[aout]",
             "-t", f"{total}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
             "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
             "-movflags", "+faststart", str(output)]
    return args


def engine_command(body: dict, paths: dict[str, Path], output: Path) -> list[str]:
    edit_path = output.with_suffix(".json")
    edit_path.write_text(json.dumps(body))
    args = [sys.executable, "-m", "worker.render", str(edit_path), "--output", str(output),
            "--encoder", "cpu"]
    for name, path in paths.items():
        args += ["--source", f"{source_id(name)}={path}"]
    return args


def run(args: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds (user + system) of a child process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args[:4])}...\n{child.stderr.read().decode()}")
    child.stderr.close()
    return elapsed, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent not idle (all processes), from /proc/stat."""
    with open("/proc/stat") as fh:
        ticks = [int(t) for t in fh.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def raw_frames(video: Path) -> Path:
    """The video's frames as raw yuv420p on disk (read back from the page cache)."""
    raw = video.with_suffix(".yuv")
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-i", str(video), "-an",
                    "-f", "rawvideo", "-pix_fmt", "yuv420p", str(raw)], check=True)
    return raw


def encoder_command(raw: Path) -> list[str]:
    """libx264 alone, with the renders' settings, on frames that need no decoding."""
    return [FFMPEG, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
            "-s", f"{SIZE[0]}x{SIZE[1]}", "-r", "30", "-i", str(raw), "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "23", "-g", "60", "-f", "null", "-"]


# A render in a process that has rendered before, as a Celery worker renders: its imports
# done, its libraries loaded. It reads one JSON job per line and answers "done".
WARM_LOOP = """
import json, sys
from shared.edit import parse_edit
from worker.render.engine import render
for line in sys.stdin:
    job = json.loads(line)
    render(parse_edit(job["edit"])[0], job["sources"], job["output"], encoder="cpu")
    print("done", flush=True)
"""


class WarmEngine:
    def __init__(self, body: dict, paths: dict[str, Path], output: Path):
        self.job = json.dumps({"edit": body, "output": str(output),
                               "sources": {source_id(n): str(p) for n, p in paths.items()}})
        self.child = subprocess.Popen([sys.executable, "-c", WARM_LOOP], cwd=REPO, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.render()  # the first render pays for the imports; the worker's did long ago

    def _cpu(self) -> float:
        with open(f"/proc/{self.child.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def render(self) -> tuple[float, float]:
        """Wall and CPU seconds of one render."""
        cpu, started = self._cpu(), time.perf_counter()
        self.child.stdin.write(self.job + "\n")
        self.child.stdin.flush()
        if self.child.stdout.readline().strip() != "done":
            raise SystemExit("the warm engine failed")
        return time.perf_counter() - started, self._cpu() - cpu

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait()


def timed(args: list[str]):
    def once() -> tuple[float, float]:
        elapsed, _, cpu = run(args)
        return elapsed, cpu
    return once


def compare(runs: int, scale: float) -> float:
    paths = make_media(OUT / "media", 12)
    clips = ratio_clips(scale)
    engine_out, ffmpeg_out = OUT / "engine.mp4", OUT / "ffmpeg.mp4"
    run(engine_command(edit_body(clips), paths, engine_out))
    raw = raw_frames(engine_out)
    warm = WarmEngine(edit_body(clips), paths, OUT / "warm.mp4")
    contenders = {"engine": timed(engine_command(edit_body(clips), paths, engine_out)),
                  "ffmpeg": timed(ffmpeg_command(clips, paths, ffmpeg_out)),
                  "warm engine": warm.render,
                  "x264 alone": timed(encoder_command(raw))}
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    others: list[float] = []  # share of the machine's CPU others used during each render
    try:
        for i in range(runs):
            # Rotate who goes first, so none always gets the warmer caches.
            order = list(contenders)
            for name in order[i % len(order):] + order[:i % len(order)]:
                busy = busy_cpu_seconds()
                elapsed, seconds = contenders[name]()
                busy = busy_cpu_seconds() - busy
                wall[name].append(elapsed)
                cpu[name].append(seconds)
                others.append(max(busy - seconds, 0) / (elapsed * os.cpu_count()))
            print(f"run {i + 1}: " + ", ".join(
                f"{name} {wall[name][-1]:.2f} s ({cpu[name][-1]:.2f} s CPU)" for name in contenders)
                + f", ratio {wall['engine'][-1] / wall['ffmpeg'][-1]:.3f}", flush=True)
    finally:
        warm.close()
        raw.unlink()

    def versus_ffmpeg(name: str, figures=wall) -> float:
        return statistics.median(x / f for x, f in zip(figures[name], figures["ffmpeg"]))

    ratio = versus_ffmpeg("engine")
    x264_cpu = statistics.median(cpu["x264 alone"])
    if max(others) > 0.05:
        print(f"WARNING: other processes used up to {max(others):.0%} of the machine's CPU "
              "during a render: these figures are not reliable", flush=True)
    print(f"median wall-time ratio engine/ffmpeg: {ratio:.3f} (goal <= 0.85: "
          f"{'met' if ratio <= 0.85 else 'NOT met'}); CPU-time ratio "
          f"{versus_ffmpeg('engine', cpu):.3f}", flush=True)
    print(f"warm engine (a process that has rendered before, as a worker): "
          f"{versus_ffmpeg('warm engine'):.3f}; CPU {versus_ffmpeg('warm engine', cpu):.3f}",
          flush=True)
    print(f"encoder floor: x264 alone on the finished frames takes "
          f"{versus_ffmpeg('x264 alone'):.3f} of ffmpeg's wall time ({x264_cpu:.2f} s CPU; on "
          f"{os.cpu_count()} cores at best "
          f"{x264_cpu / os.cpu_count() / statistics.median(wall['ffmpeg']):.3f})", flush=True)
    return ratio


def long_clips(minutes: float) -> list[dict]:
    """Alternating 50 s clips of the 60 s sources, as many as the length needs."""
    clips, left, i = [], minutes * 60, 0
    names = ["a30", "b25", "c2997"]
    while left > 0:
        length = min(50.0, left)
        clips.append(_clip(names[i % 3], 5, 5 + length, 0.8))
        left, i = left - length, i + 1
    return clips


def memory(minutes_list: list[float]) -> None:
    paths = make_media(OUT / "media", 60)
    for minutes in minutes_list:
        output = OUT / f"long-{minutes:g}min.mp4"
        body = edit_body(long_clips(minutes), loop=True)
        elapsed, peak, _ = run(engine_command(body, paths, output))
        print(f"{minutes:g} min 1080p30: peak RSS {peak / 2**20:.0f} MB, "
              f"{elapsed:.0f} s ({minutes * 60 * 30 / elapsed:.1f} frames/s)", flush=True)
        output.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter edit, fewer runs")
    parser.add_argument("--runs", type=int, default=None, help="runs of each (default 5, quick 2)")
    parser.add_argument("--minutes", default=None, help="lengths of the memory renders, "
                        "comma-separated (default 1,5,10; quick 0.5,1)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    minutes = [float(m) for m in (args.minutes or ("0.5,1" if args.quick else "1,5,10")).split(",")]
    print(f"ffmpeg: {FFMPEG}; {os.cpu_count()} CPUs", flush=True)
    if not args.skip_compare:
        compare(runs, 0.5 if args.quick else 1.0)
    if not args.skip_memory:
        memory(minutes)


if __name__ == "__main__":
    main()
