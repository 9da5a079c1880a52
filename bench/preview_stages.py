"""Where a preview piece's time goes, against the final piece of the same span.

    .venv/bin/python -m bench.preview_stages [--seconds 10] [--runs 3]

In this one process, pinned to one core (sched_setaffinity, as a bench worker is): one
clip of the camera-like source bench/incremental.py uses (1080p30 H.264 with 3 B-frames,
keyframes every 2 s), rendered as a 1080p piece and as its preview's piece
(render_piece, copy off). Then its stages, streamed as the piece streams them, in three
passes over the same frames: demux and decode (with video.decoder_options); and convert
(scale and format: a final of the source's size passes its frames through); and encode
(the piece's encoder settings, no file). A stage is the
difference of two passes; the whole piece less the third is the rest (mux, the prefetch
thread's hand-over). CPU milliseconds a frame, all threads of the process, the median of
--runs (alternating which goes first). The sound, the same for both, is mixed once per
render (render_audio).

Then the preview encoders: each preset's encode time, bytes, and PSNR-Y and SSIM-Y (8x8
windows at a stride of 4, as ffmpeg's ssim filter) against the exact half-size picture
(the final's decode, scaled as the renderer scales), beside the final piece scaled down
the same way and the preview's pictures before encoding (its decoder options).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.chunked_engine import make_panning_video  # noqa: E402
from bench.incremental import OUT, edit_of  # noqa: E402
from worker.render import PieceSpan, piece_settings, plan, render_audio, render_piece  # noqa: E402
from worker.render.encode import OutputWriter, open_video_encoder  # noqa: E402
from worker.render.video import FrameConverter, decoder_options  # noqa: E402

PRESETS = ("superfast", "ultrafast", "veryfast")
START = 1.0  # the clip's start in the source, seconds


def cpu_ms(fn, frames: int):
    started = time.process_time()
    result = fn()
    return result, (time.process_time() - started) * 1000 / frames


def decoded(path: str, count: int, options: dict, keep: bool = True):
    """The source's frames from START: a list, or (keep False) an iterator."""
    frames = _decoded(path, count, options)
    return list(frames) if keep else frames


def _decoded(path: str, count: int, options: dict):
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        stream.codec_context.options = options
        container.seek(int(START / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            if frame.time < START - 0.01:  # the frames before the clip's start
                continue
            yield frame
            count -= 1
            if not count:
                break


def converted(frames, size) -> list[av.VideoFrame]:
    converter = FrameConverter(frames[0], size, None, None)
    return [converter.convert(frame) for frame in frames]


def pipeline(path: str, count: int, settings, upto: int) -> None:
    """The piece's first stages, streamed as render_piece streams them: decode (upto 0),
    then convert (1), then encode (2); nothing is kept."""
    encoder = open_video_encoder(settings) if upto >= 2 else None
    converter = None
    for k, frame in enumerate(decoded(path, count, decoder_options(settings.preview),
                                      keep=False)):
        if upto >= 1:
            converter = converter or FrameConverter(frame, settings.size, None, None)
            frame = converter.convert(frame)
        if encoder is not None:
            frame.pts, frame.time_base = k, encoder.time_base
            frame.pict_type = av.video.frame.PictureType.NONE
            encoder.encode(frame)
    if encoder is not None:
        encoder.encode(None)


def gray(frames) -> list[np.ndarray]:
    return [frame.to_ndarray(format="gray").astype(np.float64) for frame in frames]


def luma(path: str, scale_to=None) -> list[np.ndarray]:
    """Y planes of a file's frames, scaled to `scale_to` as the renderer scales."""
    out, converter = [], None
    with av.open(path) as container:
        for frame in container.decode(video=0):
            if scale_to:
                converter = converter or FrameConverter(frame, scale_to, None, None)
                frame = converter.convert(frame)
            out.append(frame.to_ndarray(format="gray").astype(np.float64))
    return out


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def windows(x):
        return np.lib.stride_tricks.sliding_window_view(x, (8, 8))[::4, ::4].mean(axis=(2, 3))

    ma, mb = windows(a), windows(b)
    va, vb, cov = windows(a * a) - ma ** 2, windows(b * b) - mb ** 2, windows(a * b) - ma * mb
    return float(np.mean((2 * ma * mb + c1) * (2 * cov + c2)
                         / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))))


def quality(frames: list[np.ndarray], reference: list[np.ndarray]) -> str:
    assert len(frames) == len(reference), (len(frames), len(reference))
    mse = statistics.fmean(float(np.mean((a - b) ** 2)) for a, b in zip(frames, reference))
    similar = statistics.fmean(ssim(a, b) for a, b in zip(frames[::10], reference[::10]))
    return f"PSNR-Y {10 * np.log10(255 ** 2 / mse):5.2f} dB  SSIM-Y {similar:.4f}"


def write(path: str, frames, settings) -> None:
    writer = OutputWriter(path, "mp4", settings, audio=False, faststart=False)
    for frame in frames:
        writer.add_video(frame)
    writer.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preview_stages")
    parser.add_argument("--seconds", type=float, default=10, help="the piece's length")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    OUT.mkdir(parents=True, exist_ok=True)
    source_s = args.seconds + 2
    source = str(make_panning_video(OUT / f"camera1_{source_s:g}s.mp4", source_s, 2, seed=1,
                                    tone_hz=440, bframes=3))
    sid = str(uuid.uuid4())
    sources = {sid: source}
    clips = [(sid, START, START + args.seconds, 1.0)]
    folder = Path(tempfile.mkdtemp(dir=OUT))
    print(f"one {args.seconds:g} s piece, one core; load before: "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
    results = {"final": {}, "preview": {}}
    cases = {name: edit_of(clips, **({"preview": True} if name == "preview" else {}))
             for name in results}
    for run in range(args.runs):
        for name in (("final", "preview") if run % 2 == 0 else ("preview", "final")):
            edit = cases[name]
            timeline, _ = plan(edit, sources)
            settings = piece_settings(edit, timeline)
            frames = timeline.frame_count
            span = PieceSpan(0, 0, frames)
            out = str(folder / f"{name}.mp4")
            _, whole = cpu_ms(lambda: render_piece(edit, sources, span, out, timeline=timeline,
                                                   copy=False), frames)
            passes = [cpu_ms(lambda: pipeline(source, frames, settings, upto), frames)[1]
                      for upto in range(3)]
            for stage, ms in (("whole piece", whole), ("decode", passes[0]),
                              ("convert", passes[1] - passes[0]),
                              ("encode", passes[2] - passes[1]), ("rest", whole - passes[2])):
                results[name].setdefault(stage, []).append(ms)
    _, sound = cpu_ms(lambda: render_audio(cases["final"], sources, str(folder / "sound.m4a")),
                      frames)
    print(f"{'CPU ms a frame':<14} {'final':>7} {'preview':>8}  preview/final")
    for stage in results["final"]:
        final, preview = (statistics.median(results[n][stage]) for n in ("final", "preview"))
        ratio = f"{preview / final:.2f}" if final > 1 else ""  # not a ratio of noise
        print(f"{stage:<14} {final:7.2f} {preview:8.2f}  {ratio}")
    print(f"{'sound':<14} {sound:7.2f} {sound:8.2f}  (once per render, the same for both)")
    floor = (statistics.median(results["preview"]["decode"])
             / statistics.median(results["final"]["whole piece"]))
    print(f"the preview's decode alone: {floor:.2f} of the final piece")

    # The preview's encoder: presets against the exact half-size picture.
    edit = cases["preview"]
    timeline, _ = plan(edit, sources)
    settings = piece_settings(edit, timeline)
    exact = converted(decoded(source, frames, decoder_options(False)), settings.size)
    reference = gray(exact)
    print(f"quality against the exact half-size picture ({frames} frames):")
    scored = (("final piece, scaled down", luma(str(folder / "final.mp4"), settings.size)),
              ("preview pictures, not encoded",
               gray(converted(decoded(source, frames, decoder_options(True)), settings.size))),
              ("preview piece (as rendered)", luma(str(folder / "preview.mp4"))))
    for name, planes in scored:
        print(f"{name:<34} {quality(planes, reference)}")
    print(f"{'preview piece against the final':<34} {quality(scored[2][1], scored[0][1])}"
          "  (the final piece scaled down as the reference)")
    for preset in PRESETS:
        chosen = replace(settings, preview=False, preset=preset)
        path = str(folder / f"{preset}.mp4")
        _, ms = cpu_ms(lambda: write(path, exact, chosen), frames)
        size = os.path.getsize(path) / frames / 1000
        print(f"{'  encoder ' + preset:<34} {quality(luma(path), reference)}  "
              f"{ms:5.2f} ms a frame (encode, mux), {size:.1f} kB a frame")
    print("load after: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
