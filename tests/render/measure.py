"""Measurements of a rendered file: frames, colours at times, tone levels, clicks."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np


@dataclass
class VideoTrack:
    frames: int
    rate: Fraction
    end: float  # seconds: last frame's time + one frame
    colors: list[np.ndarray]  # mean RGB of each region asked for, per frame


def read_video(path, regions=((0.4, 0.6, 0.4, 0.6),), step: int = 1) -> VideoTrack:
    """Decode every frame; for every `step`-th, the mean RGB of each region (x0, x1, y0, y1
    as fractions of the picture); the others get None (converting 1080p to RGB is slow)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        colors, last, count = [], 0.0, 0
        for frame in container.decode(stream):
            colors.append(_region_colors(frame, regions) if count % step == 0 else None)
            last, count = float(frame.time), count + 1
        rate = stream.average_rate
    return VideoTrack(count, rate, last + 1 / float(rate), colors)


def _region_colors(frame, regions) -> list[np.ndarray]:
    rgb = frame.to_ndarray(format="rgb24").astype(float)
    h, w = rgb.shape[:2]
    return [rgb[int(y0 * h):max(int(y1 * h), int(y0 * h) + 1),
                int(x0 * w):max(int(x1 * w), int(x0 * w) + 1)].mean(axis=(0, 1))
            for x0, x1, y0, y1 in regions]


def read_audio(path) -> tuple[np.ndarray, int, int]:
    """(2, n) float32 at the file's rate, cut to the stream's duration (AAC pads its last
    frame; the container's edit list says where the real sound ends); also the rate and
    the duration in samples that the container declares."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        blocks = [f.to_ndarray() for f in container.decode(stream)]
        rate = stream.sample_rate
        declared = (int(stream.duration * stream.time_base * rate) if stream.duration
                    else None)
    samples = np.concatenate(blocks, axis=1)
    if samples.shape[0] == 1:
        samples = np.vstack([samples, samples])
    if declared is not None:
        samples = samples[:, :declared]
    return samples, rate, declared if declared is not None else samples.shape[1]


def tone_amplitude(samples: np.ndarray, hz: float, rate: int, start: float, length: float = 0.5,
                   channel: int = 0) -> float:
    """Peak amplitude of one frequency in a window (a single-bin DFT; windows hold whole
    cycles of the test tones, so other tones do not leak in)."""
    a, n = int(start * rate), int(length * rate)
    x = samples[channel, a:a + n].astype(np.float64)
    phase = np.exp(-2j * np.pi * hz * np.arange(n) / rate)
    return float(2 * abs(np.dot(x, phase)) / n)


def db(measured: float, expected: float) -> float:
    return 20 * np.log10(max(measured, 1e-12) / expected)


def largest_click(samples: np.ndarray) -> float:
    """The largest second difference. A sine of amplitude A at f Hz never exceeds
    A*(2*pi*f/rate)**2 (0.017 for A=1 at 1 kHz, 48 kHz); a cut that jumps shows its jump."""
    return float(np.max(np.abs(np.diff(samples, n=2, axis=1))))


def frame_times(path) -> list[float]:
    """Presentation times of a source's frames, in order."""
    with av.open(str(path)) as container:
        return sorted(float(f.time) for f in container.decode(video=0))


def shown_second(times: list[float], t: float) -> int:
    """The colour second of the frame a render must show at source time t: the last frame
    whose time is at most t (mediakit paints second s of a file in colour s)."""
    eligible = [x for x in times if x <= t + 1e-9]
    return int((eligible[-1] if eligible else times[0]) + 1e-9)
