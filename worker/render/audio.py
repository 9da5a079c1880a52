"""The sound of the output: clip audio × its levels + overlays × theirs, at 48 kHz stereo.

Every array here is planar float32 of shape (2, samples). Sources are decoded one block
at a time and resampled by libswresample; levels change over 10 ms ramps and every cut
fades over 5 ms, so that neither clicks.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Optional

import av
import numpy as np
from av.stream import Discard

from shared.edit_sources import MediaKind

from .errors import SourceDecodeError
from .timeline import SAMPLE_RATE, LevelRange, SoundOverlay, Timeline

RAMP_SECONDS = 0.010  # level changes
FADE_SAMPLES = 240  # 5 ms at each cut, overlay edge and loop seam
LIMIT_KNEE = 0.891  # -1 dBFS: below it the mix is untouched
PREROLL_SECONDS = 0.1  # decoded and dropped before a clip's first sample


class LevelEnvelope:
    """Gain over time from level ranges: later ranges win, 1.0 outside every range.

    The step function is smoothed by a moving average of RAMP_SECONDS, i.e. each change
    becomes a linear ramp centred on it. Outside `domain` the edge levels hold, so a
    clip does not ramp in from 1.0 at its own start.
    """

    def __init__(self, levels: Sequence[LevelRange], domain: tuple[float, float],
                 ramp: float = RAMP_SECONDS):
        self.half = ramp / 2
        lo, hi = domain
        edges = sorted({t for a, b, _ in levels for t in (a, b) if t is not None and lo < t < hi})
        points = [lo, *edges, hi]
        self.levels = [self._level_at((a + b) / 2, levels) for a, b in zip(points, points[1:])]
        # Knots of the running integral F of the level; extended far with the edge levels.
        far = 1e7
        knots = [lo - far, *points, hi + far]
        slopes = [self.levels[0], *self.levels, self.levels[-1]]
        integral = [0.0]
        for (a, b), slope in zip(zip(knots, knots[1:]), slopes):
            integral.append(integral[-1] + slope * (b - a))
        self.knots = np.asarray(knots)
        self.integral = np.asarray(integral)

    @staticmethod
    def _level_at(t: float, levels: Sequence[LevelRange]) -> float:
        level = 1.0
        for start, end, value in levels:
            if (start is None or start <= t) and (end is None or t < end):
                level = value
        return level

    @property
    def constant(self) -> Optional[float]:
        return self.levels[0] if len(set(self.levels)) == 1 else None

    def gains(self, t0: float, n: int, rate: int = SAMPLE_RATE) -> np.ndarray:
        """Gains of n samples, the first at time t0, as float32 (n,)."""
        if self.constant is not None:
            return np.full(n, self.constant, dtype=np.float32)
        t = t0 + np.arange(n) / rate
        upper = np.interp(t + self.half, self.knots, self.integral)
        lower = np.interp(t - self.half, self.knots, self.integral)
        return ((upper - lower) / (2 * self.half)).astype(np.float32)


def edge_fade(offset: int, n: int, total: int, fade: int = FADE_SAMPLES) -> Optional[np.ndarray]:
    """Fade-in/out gains for samples [offset, offset+n) of a segment of `total`; None if flat."""
    if fade <= offset and offset + n <= total - fade:
        return None
    i = np.arange(offset, offset + n) + 0.5
    return np.clip(np.minimum(i, total - i) / fade, 0.0, 1.0).astype(np.float32)


def soft_limit(mix: np.ndarray) -> np.ndarray:
    """Untouched below -1 dBFS, then a tanh knee towards full scale: peaks never wrap."""
    peak = np.abs(mix)
    over = peak > LIMIT_KNEE
    if over.any():
        room = 1.0 - LIMIT_KNEE
        limited = LIMIT_KNEE + room * np.tanh((peak[over] - LIMIT_KNEE) / room)
        mix[over] = np.sign(mix[over]) * limited
    return mix


class SourceAudio:
    """The audio of one source from `start` seconds on, read in blocks of any size.

    A source without an audio stream reads as silence. `read` pads with zeros past the
    end; `ended` says when that happened. The last FADE_SAMPLES before the end fade out.
    """

    def __init__(self, path: str, start: float, *, clip_index: Optional[int] = None,
                 source_id: Optional[str] = None, fade_in: bool = False):
        self.path, self.clip_index, self.source_id = path, clip_index, source_id
        self.ended = False
        self._buffer: deque[np.ndarray] = deque()
        self._buffered = 0
        self._faded_in = 0 if fade_in else FADE_SAMPLES  # samples of the fade-in done
        self._eof = False
        try:
            self.container = av.open(path)
        except av.error.FFmpegError as exc:
            raise self._error(f"cannot open the source: {exc}") from exc
        streams = self.container.streams.audio
        self.stream = streams[0] if streams else None
        self._blocks = self._decode(start) if self.stream else iter(())
        self._eof = self.stream is None

    def _error(self, message: str) -> SourceDecodeError:
        return SourceDecodeError(message, clip_index=self.clip_index, source_id=self.source_id)

    def _decode(self, start: float) -> Iterator[np.ndarray]:
        """Resampled blocks, the first beginning exactly at `start` (or later, padded)."""
        stream, container = self.stream, self.container
        for other in container.streams:  # the demuxer skips pictures it would read for nothing
            if other.index != stream.index:
                other.discard = Discard.all
        stream.thread_type = "AUTO"
        origin = Fraction(container.start_time or 0, 1_000_000)
        if start > PREROLL_SECONDS:
            # A little early: the first frames after a seek lack their overlap (AAC, Opus)
            # and are dropped with the rest of what comes before `start`.
            target = (Fraction(repr(start - PREROLL_SECONDS)) + origin) / stream.time_base
            container.seek(int(target), stream=stream, backward=True)
        mono = stream.codec_context.layout.nb_channels == 1
        # Mono is duplicated as it is (swresample's upmix would lower it by 3 dB).
        resampler = av.AudioResampler(format="fltp", layout="mono" if mono else "stereo",
                                      rate=SAMPLE_RATE)
        skip: Optional[int] = None
        for frame in self._frames():
            if skip is None:
                first = Fraction(frame.pts or 0) * stream.time_base - origin
                skip = round((Fraction(repr(start)) - first) * SAMPLE_RATE)
                if skip < 0:  # the source starts later than asked: silence until it does
                    yield np.zeros((2, -skip), dtype=np.float32)
                    skip = 0
            for out in resampler.resample(frame):
                block = out.to_ndarray()
                block = np.vstack([block, block]) if mono else block
                if skip:
                    cut = min(skip, block.shape[1])
                    block, skip = block[:, cut:], skip - cut
                if block.shape[1]:
                    yield block

    def _frames(self):
        try:
            yield from self.container.decode(self.stream)
        except av.error.FFmpegError as exc:
            raise self._error(f"the audio fails to decode: {exc}") from exc

    def _fill(self, wanted: int) -> None:
        while self._buffered < wanted and not self._eof:
            block = next(self._blocks, None)
            if block is None:
                self._eof = True
                self._fade_tail()
                break
            if self._faded_in < FADE_SAMPLES:
                block = block * edge_fade(self._faded_in, block.shape[1], 1 << 40)[None, :]
                self._faded_in += block.shape[1]
            self._buffer.append(block)
            self._buffered += block.shape[1]

    def _fade_tail(self) -> None:
        if not self._buffered:
            return
        whole = np.concatenate(list(self._buffer), axis=1)
        n = whole.shape[1]
        fade = min(FADE_SAMPLES, n)
        whole[:, n - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        self._buffer = deque([whole])

    def read(self, n: int) -> np.ndarray:
        """The next n samples, (2, n) float32."""
        # Keep a fade's worth ahead, so the tail can be faded before it is handed out.
        self._fill(n + FADE_SAMPLES)
        out = np.zeros((2, n), dtype=np.float32)
        filled = 0
        while filled < n and self._buffer:
            block = self._buffer.popleft()
            take = min(n - filled, block.shape[1])
            out[:, filled:filled + take] = block[:, :take]
            if take < block.shape[1]:
                self._buffer.appendleft(block[:, take:])
            filled += take
        self._buffered -= filled
        self.ended = self._eof and not self._buffered
        return out

    def close(self) -> None:
        self.container.close()


class OverlayTrack:
    """One overlay: its source from `source_start`, placed on the output, looped if asked."""

    def __init__(self, overlay: SoundOverlay, path: str):
        self.overlay, self.path = overlay, path
        window = (overlay.sample_start / SAMPLE_RATE, overlay.sample_end / SAMPLE_RATE)
        self.envelope = LevelEnvelope(overlay.levels, window)
        self.reader: Optional[SourceAudio] = None
        self.done = False

    def _open(self, fade_in: bool) -> SourceAudio:
        return SourceAudio(self.path, self.overlay.source_start,
                           source_id=self.overlay.source_id, fade_in=fade_in)

    def _read(self, n: int) -> np.ndarray:
        fresh = self.reader is None
        if fresh:
            self.reader = self._open(fade_in=False)
        out = self.reader.read(n)
        start = 0  # where the latest read began in `out`
        while self.overlay.loop and self.reader.ended:
            # Start over and fill what the end left silent; seams fade out and in.
            sound_end = max(start, n - self._trailing_silence(out))
            if fresh and sound_end == start:
                break  # a fresh read found no sound at all: looping cannot fill anything
            self.reader.close()
            self.reader, fresh = self._open(fade_in=True), True
            if sound_end >= n:
                break
            out[:, sound_end:] = self.reader.read(n - sound_end)
            start = sound_end
        return out

    @staticmethod
    def _trailing_silence(block: np.ndarray) -> int:
        nonzero = np.flatnonzero(np.any(block != 0, axis=0))
        return block.shape[1] - (nonzero[-1] + 1 if nonzero.size else 0)

    def mix_into(self, mix: np.ndarray, position: int) -> None:
        """Add this track's samples for output samples [position, position + len)."""
        ov = self.overlay
        lo = max(position, ov.sample_start)
        hi = min(position + mix.shape[1], ov.sample_end)
        if lo >= hi or self.done:
            return
        n = hi - lo
        block = self._read(n)
        gains = self.envelope.gains(lo / SAMPLE_RATE, n)
        fade = edge_fade(lo - ov.sample_start, n, ov.sample_end - ov.sample_start)
        if fade is not None:
            gains = gains * fade
        mix[:, lo - position:hi - position] += block * gains
        if hi >= ov.sample_end or (self.reader.ended and not ov.loop):
            self.close()

    def close(self) -> None:
        self.done = True
        if self.reader is not None:
            self.reader.close()
            self.reader = None


class AudioMixer:
    """The whole output's audio, block after block, from the timeline and the source paths."""

    def __init__(self, timeline: Timeline, sources: Mapping[str, str]):
        self.timeline, self.sources = timeline, sources
        self.position = 0
        self._clip = 0
        self._reader: Optional[SourceAudio] = None
        self._envelope: Optional[LevelEnvelope] = None
        self._overlays = [OverlayTrack(ov, sources[ov.source_id]) for ov in timeline.overlays]

    @property
    def remaining(self) -> int:
        return self.timeline.sample_count - self.position

    def read(self, n: int) -> np.ndarray:
        """The next min(n, remaining) output samples, mixed and limited."""
        n = min(n, self.remaining)
        mix = np.zeros((2, n), dtype=np.float32)
        self._mix_clips(mix)
        for track in self._overlays:
            track.mix_into(mix, self.position)
        self.position += n
        return soft_limit(mix)

    def _mix_clips(self, mix: np.ndarray) -> None:
        filled = 0
        while filled < mix.shape[1]:
            clip = self.timeline.clips[self._clip]
            offset = self.position + filled - clip.sample_start
            take = min(mix.shape[1] - filled, clip.sample_count - offset)
            if take > 0 and clip.kind == MediaKind.VIDEO:
                mix[:, filled:filled + take] = self._clip_samples(clip, offset, take)
            filled += max(take, 0)
            if offset + max(take, 0) >= clip.sample_count:
                self._next_clip()

    def _clip_samples(self, clip, offset: int, n: int) -> np.ndarray:
        if self._reader is None:
            self._reader = SourceAudio(self.sources[clip.source_id], float(clip.source_start),
                                       clip_index=clip.index, source_id=clip.source_id)
            domain = (float(clip.source_start), float(clip.source_end))
            self._envelope = LevelEnvelope(clip.levels, domain)
        block = self._reader.read(n)
        gains = self._envelope.gains(float(clip.source_start) + offset / SAMPLE_RATE, n)
        fade = edge_fade(offset, n, clip.sample_count)
        if fade is not None:
            gains = gains * fade
        return block * gains

    def _next_clip(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader = None
        if self._clip + 1 < len(self.timeline.clips):
            self._clip += 1

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        for track in self._overlays:
            track.close()
