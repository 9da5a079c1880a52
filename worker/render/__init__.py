"""The render engine: pure PyAV + numpy, no Flask, Celery or SQLAlchemy.

    from worker.render import render, RenderError, RenderCanceled
    result = render(edit, {source_id: "/cache/a.mp4", ...}, "/tmp/out.mp4",
                    on_progress=lambda done, total: ..., should_cancel=lambda: False)

`python -m worker.render EDIT.json --source ID=PATH ... --output OUT` runs it alone.
"""
from .encode import gpu_available
from .engine import RenderResult, plan, render
from .errors import (GpuUnavailableError, InvalidEditError, MissingSourceError,
                     OutputNotWritableError, RenderCanceled, RenderError, SourceDecodeError)
from .probe import probe_source

__all__ = [
    "GpuUnavailableError", "InvalidEditError", "MissingSourceError", "OutputNotWritableError",
    "RenderCanceled", "RenderError", "RenderResult", "SourceDecodeError", "gpu_available",
    "plan", "probe_source", "render",
]
