"""The render engine: pure PyAV + numpy, no Flask, Celery or SQLAlchemy.

    from worker.render import render, RenderError, RenderCanceled
    result = render(edit, {source_id: "/cache/a.mp4", ...}, "/tmp/out.mp4",
                    on_progress=lambda done, total: ..., should_cancel=lambda: False)

`python -m worker.render EDIT.json --source ID=PATH ... --output OUT` runs it alone.

One render in pieces (the farm spreads them over workers): plan_pieces, render_piece,
render_audio and join; see piece_render.py for the whole sequence, in_process.py's
render_in_pieces for it in one process.
"""
from .encode import gpu_available
from .engine import RenderResult, plan, plan_from_infos, render
from .errors import (GpuUnavailableError, InvalidEditError, MissingSourceError,
                     OutputNotWritableError, RenderCanceled, RenderError, SourceDecodeError)
from .in_process import render_in_pieces, render_whole
from .join import JoinResult, PieceMismatchError, join
from .piece_keys import engine_build, piece_inputs, piece_key
from .piece_plan import ClipPart, clip_parts, plan_pieces, sound_sources, sources_for
from .piece_render import (AudioResult, PieceResult, piece_codec, piece_container, piece_settings,
                           render_audio, render_piece)
from .probe import probe_source
from .timeline import PieceSpan, timeline_from_dict, timeline_to_dict

__all__ = [
    "AudioResult", "ClipPart", "GpuUnavailableError", "InvalidEditError", "JoinResult",
    "MissingSourceError", "OutputNotWritableError", "PieceMismatchError", "PieceResult",
    "PieceSpan", "RenderCanceled", "RenderError", "RenderResult", "SourceDecodeError",
    "clip_parts", "engine_build", "gpu_available", "join", "piece_codec",
    "piece_container", "piece_inputs", "piece_key", "piece_settings", "plan", "plan_from_infos",
    "plan_pieces", "probe_source",
    "render", "render_audio", "render_in_pieces", "render_piece", "render_whole",
    "sound_sources", "sources_for", "timeline_from_dict", "timeline_to_dict",
]
