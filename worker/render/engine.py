"""render(): a validated edit and local source files in, one output file out.

Frames and audio blocks stream through (one clip source open for pictures and one for
sound, plus the overlays). Pictures are decoded and scaled in one thread, sound mixed and
encoded in another, a few items ahead of the main thread, which encodes the pictures and
muxes: after each video frame, the audio up to that frame's end, so the muxer never has
to buffer.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import av

from shared.edit import MAX_OUTPUT_SECONDS, VideoEdit
from shared.edit_sources import EditSourceError, SourceInfo, check_sources, clamp_to_sources

from .encode import OutputWriter, VideoSettings, choose_video_codec
from .errors import (InvalidEditError, MissingSourceError, OutputNotWritableError,
                     RenderCanceled, RenderError, SourceDecodeError)
from .prefetch import Prefetch
from .probe import probe_source
from .timeline import Timeline, build_timeline, round_half_up
from .video import timeline_frames

ProgressCallback = Callable[[int, int], None]  # (frames written, frames in all)
PROGRESS_INTERVAL = 0.25  # seconds between two progress calls
CANCEL_EVERY = 4  # frames between two should_cancel() calls
VIDEO_AHEAD = 4  # decoded frames waiting for the encoder (3 MB each at 1080p)
AUDIO_AHEAD = 64  # encoded audio frames waiting (about 1.4 s)


@dataclass
class RenderResult:
    output: str
    frames: int
    samples: int  # per channel, at 48 kHz
    duration: float  # seconds
    video_codec: str
    warnings: list[str] = field(default_factory=list)
    pieces: int = 1  # rendered apart and joined (render_in_pieces)
    copied: int = 0  # frames copied from a source's packets, not encoded (piece_copy.py)


def plan(edit: VideoEdit, sources: Mapping[str, str],
         max_output_seconds: float = MAX_OUTPUT_SECONDS) -> tuple[Timeline, list[str]]:
    """Probe the sources, check the edit against them (and its length against
    `max_output_seconds`) and lay out the timeline."""
    uses = edit.source_uses()
    for use in uses:
        if use.id not in sources:
            raise MissingSourceError(f"no source file for {use.loc[-1]} {use.id}",
                                     clip_index=use.clip_index, source_id=use.id)
    infos: dict[str, SourceInfo] = {}
    for use in uses:
        if use.id not in infos:
            infos[use.id] = _probe(sources[use.id], use.id, use.clip_index)
    return plan_from_infos(edit, infos, max_output_seconds)


def plan_from_infos(edit: VideoEdit, infos: Mapping[str, SourceInfo],
                    max_output_seconds: float = MAX_OUTPUT_SECONDS
                    ) -> tuple[Timeline, list[str]]:
    """plan() from what is known of each source (every id of the edit), without files:
    e.g. when a render in pieces is planned, from the stored probes."""
    try:
        warnings = check_sources(edit, infos, max_output_seconds)
    except EditSourceError as exc:
        raise InvalidEditError(str(exc), exc.errors) from exc
    timeline, more = build_timeline(clamp_to_sources(edit, infos), infos)
    return timeline, edit.warnings + warnings + more


def _probe(path: str, source_id: str, clip_index: Optional[int]) -> SourceInfo:
    try:
        return probe_source(path)
    except SourceDecodeError as exc:
        raise SourceDecodeError(str(exc), clip_index=clip_index, source_id=source_id) from exc


def _temporary_path(output: Path) -> Path:
    """A new file beside the output (same disk, so the final rename is atomic)."""
    partial = output.parent / f".{output.stem}.{uuid.uuid4().hex[:12]}.part"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial.open("xb").close()  # mode 0666 less the umask, like any new file
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write in {output.parent}: {exc}") from exc
    return partial


@contextmanager
def partial_output(output: str) -> Iterator[str]:
    """A temporary path to write `output` at: renamed onto it when the block ends well,
    deleted when it raises. So `output` is either whole or absent, never half written."""
    target = Path(output)
    partial = _temporary_path(target)
    try:
        yield str(partial)
        os.replace(partial, target)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, av.error.FFmpegError):  # sources wrap their own; this is output
            raise RenderError(f"encoding or writing the output failed: {exc}") from exc
        raise


@contextmanager
def open_writer(path: str, fmt: str, video: Optional[VideoSettings], **kwargs
                ) -> Iterator[OutputWriter]:
    """An OutputWriter, closed (the file finished) when the block ends well, else aborted."""
    writer = OutputWriter(path, fmt, video, **kwargs)
    try:
        yield writer
        writer.close()
    except BaseException:
        writer.abort()
        raise


class FrameProgress:
    """Per written frame: reports at most every PROGRESS_INTERVAL (and the last frame),
    asks should_cancel() every CANCEL_EVERY frames and raises RenderCanceled on yes."""

    def __init__(self, total: int, on_progress: Optional[ProgressCallback],
                 should_cancel: Optional[Callable[[], bool]]):
        self.total, self.on_progress, self.should_cancel = total, on_progress, should_cancel
        self._last_report = 0.0

    def written(self, done: int) -> None:
        if self.should_cancel is not None and done % CANCEL_EVERY == 0 and self.should_cancel():
            raise RenderCanceled("the render was canceled")
        now = time.monotonic()
        if self.on_progress is not None and (now - self._last_report >= PROGRESS_INTERVAL
                                             or done == self.total):
            self.on_progress(done, self.total)
            self._last_report = now


def video_settings(edit: VideoEdit, timeline: Timeline, codec: str, threads: int = 0
                   ) -> VideoSettings:
    """The video encoder's settings for an edit's timeline (its size: a preview's is half)."""
    options = edit.render_options
    return VideoSettings(codec, (timeline.width, timeline.height), timeline.fps,
                         options and options.preset, options and options.crf, threads,
                         edit.preview)


def render(edit: VideoEdit, sources: Mapping[str, str], output: str, *,
           on_progress: Optional[ProgressCallback] = None,
           should_cancel: Optional[Callable[[], bool]] = None,
           encoder: Optional[str] = None,
           max_output_seconds: float = MAX_OUTPUT_SECONDS,
           planned: Optional[tuple[Timeline, list[str]]] = None) -> RenderResult:
    """Render `edit` from `sources` ({source id: local path}) into the file `output`.

    `encoder` (auto|cpu|gpu) is the machine's default; the edit's render_options.encoder
    wins when it says cpu or gpu. An output longer than `max_output_seconds` is an
    InvalidEditError. Raises a RenderError subclass, or RenderCanceled. `planned`: what
    plan(edit, sources, max_output_seconds) returned, when the caller has it already.
    """
    timeline, warnings = planned or plan(edit, sources, max_output_seconds)
    choice = edit.encoder if edit.encoder != "auto" else (encoder or "auto")
    codec, notes = choose_video_codec(edit.video_output_format, choice)
    settings = video_settings(edit, timeline, codec)
    with partial_output(output) as path, \
            open_writer(path, edit.video_output_format, settings) as writer:
        _write(timeline, sources, writer, FrameProgress(timeline.frame_count, on_progress,
                                                        should_cancel), settings)
    return RenderResult(str(Path(output)), writer.frames, writer.samples,
                        writer.samples / timeline.sample_rate, codec, warnings + notes)


def audio_packets(timeline: Timeline, sources, writer: OutputWriter
                   ) -> Iterator[tuple[int, list[av.Packet]]]:
    """(samples, packets) per audio encoder frame, mixed and encoded, then the flush."""
    # Imported here, in the audio thread: numpy's 70 ms of import then overlap with the
    # first video frames instead of delaying them.
    from .audio import AudioMixer

    mixer = AudioMixer(timeline, sources)
    try:
        while mixer.remaining > 0:
            block = mixer.read(writer.audio_frame_size)
            yield block.shape[1], writer.encode_audio(block)
        yield 0, writer.flush_audio()
    finally:
        mixer.close()


def _write(timeline: Timeline, sources, writer: OutputWriter, progress: FrameProgress,
           settings: VideoSettings) -> None:
    total = timeline.frame_count
    block = writer.audio_frame_size
    heard = 0
    # Pictures and sound are each made in their own thread, a little ahead of the encoder.
    with Prefetch(timeline_frames(timeline, sources, preview=settings.preview),
                  VIDEO_AHEAD, "video") as frames, \
            Prefetch(audio_packets(timeline, sources, writer), AUDIO_AHEAD, "audio") as sound:
        for frame in frames:
            writer.add_video(frame)
            done = writer.frames
            # Audio up to the end of this frame, in whole encoder frames.
            audio_end = round_half_up(done / timeline.fps * timeline.sample_rate)
            # The timeline's sound may end inside the last frame (frames round up).
            while heard + block <= min(audio_end, timeline.sample_count):
                samples, packets = next(sound)
                writer.mux(packets)
                heard += samples
            progress.written(done)
        for samples, packets in sound:
            writer.mux(packets)
    if writer.frames != total or writer.samples != timeline.sample_count:
        raise RuntimeError(f"wrote {writer.frames} frames and {writer.samples} samples, "
                           f"the timeline has {total} and {timeline.sample_count}")
