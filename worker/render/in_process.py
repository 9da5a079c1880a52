"""A render in pieces in one process: the farm's path (plan, pieces, sound, join) without it."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Optional

from shared.edit import MAX_OUTPUT_SECONDS, VideoEdit

from .engine import ProgressCallback, RenderResult, plan, render
from .join import join
from .piece_plan import plan_pieces
from .piece_render import PIECE_FORMAT, piece_codec, render_audio, render_piece


def render_in_pieces(edit: VideoEdit, sources: Mapping[str, str], output: str,
                     chunk_seconds: float, *, on_progress: Optional[ProgressCallback] = None,
                     should_cancel: Optional[Callable[[], bool]] = None,
                     encoder: Optional[str] = None,
                     max_output_seconds: float = MAX_OUTPUT_SECONDS) -> RenderResult:
    """render(), but through pieces rendered one after another here and joined: the farm's
    path in one process. A plan of one piece is an ordinary render()."""
    timeline, warnings = plan(edit, sources, max_output_seconds)
    spans, notes = plan_pieces(timeline, chunk_seconds, edit.video_output_format, edit.encoder)
    if len(spans) == 1:
        result = render(edit, sources, output, on_progress=on_progress,
                        should_cancel=should_cancel, encoder=encoder,
                        max_output_seconds=max_output_seconds)
        result.warnings += notes
        return result
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.stem}.", dir=target.parent) as work:
        paths = [os.path.join(work, f"piece{span.index}.{PIECE_FORMAT}") for span in spans]
        for span, path in zip(spans, paths):
            def progress(done: int, _: int, before: int = span.start) -> None:
                if on_progress is not None:
                    on_progress(before + done, timeline.frame_count)

            render_piece(edit, sources, span, path, timeline=timeline, on_progress=progress,
                         should_cancel=should_cancel)
        fmt = edit.video_output_format
        sound = render_audio(edit, sources, os.path.join(work, f"sound.{fmt}"),
                             timeline=timeline, should_cancel=should_cancel)
        joined = join(paths, spans, sound.output, output, fmt, timeline.fps)
    return RenderResult(str(target), joined.frames, sound.samples,
                        sound.samples / timeline.sample_rate, piece_codec(fmt), warnings + notes,
                        pieces=len(spans))
