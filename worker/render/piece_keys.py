"""A piece's key: sha256 over exactly what its video depends on, so that equal keys mean
equal bytes, whichever render, project or worker made them.

    key = piece_key(timeline, span, piece_settings(edit, timeline), {source id: sha256})

It hashes (canonical JSON: sorted keys, no spaces) what piece_inputs returns:
- `pictures`: per clip part the piece shows (piece_plan.ClipPart.shows), the source's
  content sha256, its kind, the source time of its first frame (an exact fraction), its
  frame count and its framing (crop, or fit with bars);
- `encoder`: everything the encoder is opened with (encode.encoder_setup: codec, output
  size, fps, pixel format, GOP, thread count, preset, CRF, x264 parameters, preview) and
  the pieces' container;
- `decoder`: the sources' decoder options (video.decoder_options: a preview's skip
  some deblocking);
- `engine`: ENGINE_SCHEMA and the build (PyAV, FFmpeg and its libraries, x264's core).
Not the piece's place in the output (the join offsets its times), nor the edit's name,
output filename, project, owner or source ids. Which of its frames are copied from a
source's packets rather than encoded (piece_copy.py) follows from these too: the source's
content, the span it shows and the encoder's settings decide it; and where the plan cut
(at a source's keyframes, piece_plan.py) is in each part's source time and frame count.
"""
from __future__ import annotations

import functools
from fractions import Fraction
from typing import Optional

import av

from shared.digests import canonical_sha256

from .encode import VideoSettings, encoder_setup
from .piece_plan import Contents, clip_parts
from .piece_render import PIECE_FORMAT
from .timeline import PieceSpan, Timeline
from .video import decoder_options

# Raise when what a piece's bytes depend on changes without a change of the inputs above
# (a new rule in the pictures' making, another muxer setting): old keys then miss.
ENGINE_SCHEMA = 1


@functools.cache
def x264_build() -> str:
    """x264's version as the encoder writes it in its first frame ("core 165 ...")."""
    try:
        ctx = av.CodecContext.create("libx264", "w")
    except (av.error.FFmpegError, av.codec.codec.UnknownCodecError):
        return "none"
    ctx.width, ctx.height, ctx.pix_fmt = 16, 16, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    data = b"".join(bytes(p) for p in ctx.encode(av.VideoFrame(16, 16, "yuv420p"))
                    + ctx.encode(None))
    start = data.find(b"x264 - ")
    end = data.find(b" - ", start + 7)
    return data[start + 7:end].decode("ascii", "replace") if start >= 0 else "unknown"


@functools.cache
def engine_build() -> dict:
    """What renders a piece: the schema of these keys and the libraries' versions."""
    return {"schema": ENGINE_SCHEMA, "pyav": av.__version__,
            "ffmpeg": getattr(av, "ffmpeg_version_info", ""),
            "libraries": {name: list(version) for name, version in av.library_versions.items()},
            "x264": x264_build()}


def piece_inputs(timeline: Timeline, span: PieceSpan, settings: VideoSettings,
                 contents: Contents) -> Optional[dict]:
    """What the piece's video depends on; None when a source it shows has no known content
    (such a piece cannot be keyed)."""
    pictures = []
    for part in clip_parts(timeline, span):
        content = contents.get(part.clip.source_id)
        if not content:
            return None
        pictures.append(part.shows(timeline.fps, content))
    return {"pictures": pictures, "engine": engine_build(),
            "decoder": decoder_options(settings.preview),
            "encoder": {**encoder_setup(settings), "container": PIECE_FORMAT}}


def piece_key(timeline: Timeline, span: PieceSpan, settings: VideoSettings,
              contents: Contents) -> Optional[str]:
    """The piece's key (64 hex digits), or None when piece_inputs is None."""
    inputs = piece_inputs(timeline, span, settings, contents)
    if inputs is None:
        return None
    return canonical_sha256(inputs)
