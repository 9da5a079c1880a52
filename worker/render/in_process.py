"""A render in pieces in one process: the farm's path (plan, pieces, sound, join) without it."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Optional

from shared.edit import MAX_OUTPUT_SECONDS, VideoEdit

from .encode import choose_video_codec
from .engine import ProgressCallback, RenderResult, plan, render
from .join import join
from .piece_copy import may_copy
from .piece_plan import plan_pieces
from .piece_render import PIECE_FORMAT, piece_codec, piece_settings, render_audio, render_piece
from .timeline import PieceSpan, Timeline


def render_in_pieces(edit: VideoEdit, sources: Mapping[str, str], output: str,
                     chunk_seconds: float, *, on_progress: Optional[ProgressCallback] = None,
                     should_cancel: Optional[Callable[[], bool]] = None,
                     encoder: Optional[str] = None,
                     max_output_seconds: float = MAX_OUTPUT_SECONDS) -> RenderResult:
    """render(), but through pieces rendered one after another here and joined: the farm's
    path in one process. A plan of one piece is render_whole's."""
    timeline, warnings = plan(edit, sources, max_output_seconds)
    spans, notes = plan_pieces(timeline, chunk_seconds, edit.video_output_format, edit.encoder)
    if len(spans) == 1:
        result = render_whole(edit, sources, output, on_progress=on_progress,
                              should_cancel=should_cancel, encoder=encoder,
                              max_output_seconds=max_output_seconds)
        result.warnings += notes
        return result
    return _joined(edit, sources, output, timeline, spans, warnings + notes, on_progress,
                   should_cancel)


def render_whole(edit: VideoEdit, sources: Mapping[str, str], output: str, *,
                 on_progress: Optional[ProgressCallback] = None,
                 should_cancel: Optional[Callable[[], bool]] = None,
                 encoder: Optional[str] = None,
                 max_output_seconds: float = MAX_OUTPUT_SECONDS,
                 planned: Optional[tuple[Timeline, list[str]]] = None) -> RenderResult:
    """A render in one piece: render(), or, where its encoder would be the pieces' and a
    source holds GOPs that encoder would write (a Canopy render used as a source), the one
    piece, its sound and the join, so that those GOPs are copied (piece_copy.py).
    `planned`: the timeline its caller planned (and its warnings), rendered as it is."""
    timeline, warnings = planned or plan(edit, sources, max_output_seconds)
    fmt = edit.video_output_format
    choice = edit.encoder if edit.encoder != "auto" else (encoder or "auto")
    if (choose_video_codec(fmt, choice)[0] != piece_codec(fmt)
            or not may_copy(timeline, sources, piece_settings(edit, timeline))):
        return render(edit, sources, output, on_progress=on_progress,
                      should_cancel=should_cancel, encoder=encoder,
                      max_output_seconds=max_output_seconds, planned=(timeline, warnings))
    return _joined(edit, sources, output, timeline, [PieceSpan(0, 0, timeline.frame_count)],
                   warnings, on_progress, should_cancel)


def _joined(edit: VideoEdit, sources: Mapping[str, str], output: str, timeline: Timeline,
            spans: Sequence[PieceSpan], warnings: list[str],
            on_progress: Optional[ProgressCallback],
            should_cancel: Optional[Callable[[], bool]]) -> RenderResult:
    """The pieces of `spans` rendered one after another, the sound, and their join."""
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    with tempfile.TemporaryDirectory(prefix=f".{target.stem}.", dir=target.parent) as work:
        paths = [os.path.join(work, f"piece{span.index}.{PIECE_FORMAT}") for span in spans]
        for span, path in zip(spans, paths):
            def progress(done: int, _: int, before: int = span.start) -> None:
                if on_progress is not None:
                    on_progress(before + done, timeline.frame_count)

            piece = render_piece(edit, sources, span, path, timeline=timeline,
                                 on_progress=progress, should_cancel=should_cancel)
            copied += piece.copied
        fmt = edit.video_output_format
        sound = render_audio(edit, sources, os.path.join(work, f"sound.{fmt}"),
                             timeline=timeline, should_cancel=should_cancel)
        joined = join(paths, spans, sound.output, output, fmt, timeline.fps)
    return RenderResult(str(target), joined.frames, sound.samples,
                        sound.samples / timeline.sample_rate, piece_codec(fmt), warnings,
                        pieces=len(spans), copied=copied)
