"""Synthetic media for tests, made with PyAV: solid colours per second and sine tones.

Every function writes one file and returns its path. Colours are RGB tuples picked from
`PALETTE` so that a decoded pixel can be told back with `nearest_color`, even after lossy
encoding. Tones are sines of a known frequency and peak amplitude (default 0.5, -6 dBFS).

    make_video(tmp / "a.mp4", size=(160, 90), fps=30, duration=3, colors_per_second=PALETTE[:3],
               tone_hz=440)
    make_image(tmp / "still.png", (160, 90), PALETTE[4])
    make_audio(tmp / "music.m4a", duration=5, tone_hz=880)
    make_counting_video(tmp / "count.mp4", fps=30, duration=10, tone_hz=500)  # frame k shows k
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

import av
import numpy as np

Color = tuple[int, int, int]

# Far apart in RGB and in YUV, so that x264 at low resolution keeps them distinguishable.
PALETTE: list[Color] = [
    (220, 30, 30),    # red
    (30, 200, 30),    # green
    (30, 30, 220),    # blue
    (230, 230, 30),   # yellow
    (220, 30, 220),   # magenta
    (30, 220, 220),   # cyan
    (240, 240, 240),  # white
    (240, 140, 20),   # orange
    (120, 60, 20),    # brown
    (120, 120, 120),  # grey
]
BLACK: Color = (0, 0, 0)

_AUDIO_CODECS = {".wav": "pcm_s16le", ".m4a": "aac", ".mp4": "aac", ".ogg": "libopus",
                 ".opus": "libopus", ".flac": "flac", ".mka": "pcm_s16le", ".mov": "aac"}


def nearest_color(rgb: Sequence[float], candidates: Sequence[Color] = (*PALETTE, BLACK)) -> Color:
    """The candidate closest to a measured RGB value."""
    rgb = np.asarray(rgb, dtype=float)
    return min(candidates, key=lambda c: float(np.sum((rgb - np.asarray(c)) ** 2)))


def sine(duration: float, tone_hz: float, sample_rate: int = 48000, channels: int = 2,
         amplitude: float = 0.5, start_sample: int = 0) -> np.ndarray:
    """A sine, planar float32 of shape (channels, samples)."""
    n = int(round(duration * sample_rate))
    t = (np.arange(n) + start_sample) / sample_rate
    wave = (amplitude * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
    return np.tile(wave, (channels, 1))


def _frame_times(fps: float, duration: float, vfr: bool) -> list[Fraction]:
    """Frame start times; VFR alternates 0.5 and 1.5 frame intervals (same mean rate)."""
    step = 1 / Fraction(fps).limit_denominator(1001)
    times, t, i = [], Fraction(0), 0
    while t < duration - 1e-9:
        times.append(t)
        t += step * (Fraction(1, 2) if vfr and i % 2 == 0 else Fraction(3, 2) if vfr else 1)
        i += 1
    return times


def _color_image(size: tuple[int, int], color: Color, right_half: Optional[Color]) -> np.ndarray:
    width, height = size
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = color
    if right_half is not None:
        image[:, width // 2:] = right_half
    return image


def make_video(path, *, size: tuple[int, int] = (160, 90), fps: float = 30, duration: float = 3.0,
               colors_per_second: Sequence[Color] = PALETTE, tone_hz: Optional[float] = None,
               channels: int = 2, sample_rate: int = 48000, amplitude: float = 0.5,
               vfr: bool = False, rotation: Optional[int] = None, codec: str = "libx264",
               right_half: Optional[Color] = None, faststart: bool = False) -> Path:
    """A video whose second s is a solid colors_per_second[s % len], with an optional tone.

    `rotation` writes a display matrix (degrees counter-clockwise, as PyAV reads it back);
    `right_half` paints the right half of every frame in another colour (to see rotations);
    `tone_hz=None` makes a file without audio; `vfr` makes irregular frame intervals;
    `faststart` puts the mp4/mov index first (a truncated copy then still opens).
    """
    path = Path(path)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        video = _add_video_stream(container, codec, size, fps, vfr)
        if rotation:
            video.set_display_rotation(rotation)
        audio = None
        if tone_hz is not None:
            audio = container.add_stream(_AUDIO_CODECS.get(path.suffix, "aac"), rate=sample_rate)
            audio.layout = "mono" if channels == 1 else "stereo"
        cache: dict = {}
        for t in _frame_times(fps, duration, vfr):
            key = int(t) % len(colors_per_second)
            if key not in cache:
                cache[key] = _color_image(size, colors_per_second[key], right_half)
            frame = av.VideoFrame.from_ndarray(cache[key], format="rgb24")
            frame.pts = int(t / video.codec_context.time_base)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            _write_tone(container, audio, duration, tone_hz, sample_rate, channels, amplitude)
    return path


def _add_video_stream(container, codec: str, size, fps: float, vfr: bool):
    rate = Fraction(fps).limit_denominator(1001)
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    # A fine time base lets VFR frames land on their exact times.
    stream.codec_context.time_base = Fraction(1, 90000) if vfr else 1 / rate
    if codec == "libx264":
        stream.options = {"preset": "ultrafast", "crf": "18"}
    return stream


def _write_tone(container, stream, duration, tone_hz, sample_rate, channels, amplitude):
    # Encoders take one fixed frame size (AAC 1024); PyAV re-chunks what it is given.
    wave = sine(duration, tone_hz, sample_rate, channels, amplitude)
    block = 4096
    for start in range(0, wave.shape[1], block):
        chunk = np.ascontiguousarray(wave[:, start:start + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp",
                                           layout="mono" if channels == 1 else "stereo")
        frame.sample_rate = sample_rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


COUNT_GRID = (4, 3)  # columns, rows: a frame's index in 12 black/white blocks


def counting_image(size: tuple[int, int], index: int) -> np.ndarray:
    """RGB picture of `index`: bit b is block b of the grid (row by row), white for 1."""
    width, height = size
    cols, rows = COUNT_GRID
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for bit in range(cols * rows):
        if index >> bit & 1:
            r, c = divmod(bit, cols)
            image[r * height // rows:(r + 1) * height // rows,
                  c * width // cols:(c + 1) * width // cols] = 255
    return image


def read_index(frame: av.VideoFrame) -> int:
    """The index a counting_image frame shows, read from the middle of each block (the
    blocks are large enough to survive lossy encoding and scaling to the same aspect)."""
    gray = frame.to_ndarray(format="gray").astype(float)
    height, width = gray.shape
    cols, rows = COUNT_GRID
    index = 0
    for bit in range(cols * rows):
        r, c = divmod(bit, cols)
        y0, y1 = (4 * r + 1) * height // (4 * rows), (4 * r + 3) * height // (4 * rows)
        x0, x1 = (4 * c + 1) * width // (4 * cols), (4 * c + 3) * width // (4 * cols)
        index |= int(gray[y0:y1, x0:x1].mean() > 128) << bit
    return index


def make_counting_video(path, *, size: tuple[int, int] = (160, 90), fps: float = 30,
                        duration: float = 10.0, tone_hz: Optional[float] = 500,
                        keyframe_seconds: float = 2.5) -> Path:
    """A video whose frame k shows k (counting_image) and whose sound is one unbroken sine.

    Encoded with B-frames (keyframes' decode times come before their pictures) and
    keyframes every `keyframe_seconds`, as camera files are, so seeking into it is tested.
    """
    path = Path(path)
    with av.open(str(path), "w") as container:
        rate = Fraction(fps).limit_denominator(1001)
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = 1 / rate
        video.codec_context.gop_size = round(keyframe_seconds * fps)
        video.options = {"preset": "veryfast", "crf": "18", "bf": "3", "sc_threshold": "0"}
        audio = None
        if tone_hz is not None:
            audio = container.add_stream(_AUDIO_CODECS.get(path.suffix, "aac"), rate=48000)
            audio.layout = "stereo"
        for k in range(round(duration * rate)):
            frame = av.VideoFrame.from_ndarray(counting_image(size, k), format="rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            _write_tone(container, audio, duration, tone_hz, 48000, 2, 0.5)
    return path


def make_image(path, size: tuple[int, int] = (160, 90), color: Color = PALETTE[0],
               right_half: Optional[Color] = None) -> Path:
    """A still image (PNG or JPEG, by the path's suffix) of one colour."""
    path = Path(path)
    codec = "mjpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height = size
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "rgb24"
        frame = av.VideoFrame.from_ndarray(_color_image(size, color, right_half), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_audio(path, duration: float = 3.0, tone_hz: float = 440.0, sample_rate: int = 48000,
               channels: int = 2, fmt: Optional[str] = None, amplitude: float = 0.5) -> Path:
    """An audio-only file holding one sine; the codec follows the suffix (.wav, .m4a, .ogg...).

    `fmt` forces the container format (e.g. "wav"), for paths without a telling suffix.
    """
    path = Path(path)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(_AUDIO_CODECS.get(path.suffix.lower(), "pcm_s16le"),
                                      rate=sample_rate)
        stream.layout = "mono" if channels == 1 else "stereo"
        _write_tone(container, stream, duration, tone_hz, sample_rate, channels, amplitude)
    return path
