"""Media ingest for the worker: probe, thumbnails. (PyAV lives here, never in the API.)"""
from .probe import MAX_PIXELS, MAX_SIDE, ProbeError, ProbeResult, probe
from .thumbnail import make_thumbnail

__all__ = ["MAX_PIXELS", "MAX_SIDE", "ProbeError", "ProbeResult", "make_thumbnail", "probe"]
