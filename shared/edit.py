"""The edit: Video Jungle's "video_edit_version 1.0" JSON as one pydantic model.

Used by the API (422 with the field path) and by the worker (what to render). Only
pydantic and the standard library here: the API process must not need PyAV or numpy.
What each field accepts is shared/edit_fields.py; the rules that need the sources are
shared/edit_sources.py.

    edit, warnings = parse_edit(body)           # ValidationError on a rule it breaks
    warnings += check_sources(edit, infos)      # EditSourceError on a rule of the sources
    edit = clamp_to_sources(edit, infos)        # ends past the source by < 0.5 s

Times are stored as float seconds; `model_dump(mode="json")` re-validates to the same edit.
Error locations are relative to the body (the API prefixes "body").
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, Literal, NamedTuple, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from . import patterns
from .edit_fields import (CallbackUrl, Flag, Level, Number, Resolution, Seconds, SourceId,
                          end_after, lower, none_is_empty, sanitize_filename)

FORMATS = ("mp4", "mov", "webm")
# NTSC rates: clients send the rounded decimal, encoders need the exact rational.
NTSC_RATES = {
    23.976: Fraction(24000, 1001),
    29.97: Fraction(30000, 1001),
    47.952: Fraction(48000, 1001),
    59.94: Fraction(60000, 1001),
    119.88: Fraction(120000, 1001),
}
AUTO_CROP_ZOOM = {"standard": 1.0, "tight": 1.2, "loose": 0.9}
# The longest output a render may make (CANOPY_MAX_OUTPUT_SECONDS): an image clip's length is
# whatever the edit says, so without a cap one clip could render for ever.
MAX_OUTPUT_SECONDS = 4 * 3600


class _Part(BaseModel):
    # Unknown keys are dropped here and reported by `unknown_keys`.
    model_config = ConfigDict(extra="ignore")


class AudioLevel(_Part):
    """A level over a time range (clip source time, or output time for overlays)."""

    audio_level: Level
    start_time: Optional[Seconds] = None
    end_time: Optional[Seconds] = None

    _end_after_start = end_after("start_time", "end_time")


Levels = Annotated[list[AudioLevel], BeforeValidator(none_is_empty)]


class Crop(_Part):
    """Cover the frame, then take a window 1/zoom of it, moved by position × margin."""

    zoom: Number = Field(1.0, ge=0.1, le=10.0)
    position_x: Number = Field(0.0, ge=-1.0, le=1.0)
    position_y: Number = Field(0.0, ge=-1.0, le=1.0)


class Clip(_Part):
    """One entry of `video_series_sequential`."""

    video_id: SourceId
    type: Annotated[Literal["videofile", "asset", "image"], BeforeValidator(lower)]
    video_start_time: Seconds
    video_end_time: Optional[Seconds] = None
    audio_levels: Levels = Field(default_factory=list)
    crop: Optional[Crop] = None

    _end_after_start = end_after("video_start_time", "video_end_time")


class AudioOverlay(_Part):
    """One entry of `audio_overlay`: a track mixed over the output timeline."""

    audio_id: SourceId
    type: str = "music"
    audio_start_time: Optional[Seconds] = None
    audio_end_time: Optional[Seconds] = None
    audio_levels: Levels = Field(default_factory=list)
    source_start_time: Seconds = 0.0  # (ext) where in the source it starts playing
    loop: Flag = False  # (ext) repeat a source shorter than its window

    _end_after_start = end_after("audio_start_time", "audio_end_time")


MIN_CHUNK_SECONDS = 2  # a piece shorter than this costs more in start-up than it saves
MAX_CHUNK_SECONDS = 24 * 3600


def _chunk_seconds(value: Optional[float]) -> Optional[float]:
    if value is not None and value != 0 and not MIN_CHUNK_SECONDS <= value <= MAX_CHUNK_SECONDS:
        raise ValueError(f"chunk_seconds must be 0 (one piece) or {MIN_CHUNK_SECONDS}"
                         f"-{MAX_CHUNK_SECONDS} seconds")
    return value


class SourceUse(NamedTuple):
    """One place where an edit names a source."""

    id: str
    type: Optional[str]  # the clip's `type`; None for an overlay (any media with sound)
    loc: tuple  # ("video_series_sequential", i, "video_id") or ("audio_overlay", i, "audio_id")
    part: Union[Clip, AudioOverlay]

    @property
    def clip_index(self) -> Optional[int]:
        return self.loc[1] if isinstance(self.part, Clip) else None


class RenderOptions(_Part):
    """(ext) Encoder choice and quality, and how long the pieces of a long render are."""

    encoder: Annotated[Literal["auto", "cpu", "gpu"], BeforeValidator(lower)] = "auto"
    preset: Optional[Annotated[str, Field(pattern=r"^[a-z0-9]{1,20}$")]] = None
    crf: Optional[Number] = Field(None, ge=0, le=63)
    # Seconds of output per piece, each rendered by any worker; 0 = one piece.
    # None: the worker's CANOPY_CHUNK_SECONDS.
    chunk_seconds: Annotated[Optional[float], Field(allow_inf_nan=False),
                             AfterValidator(_chunk_seconds), WithJsonSchema({"anyOf": [
                                 {"const": 0}, {"type": "null"},
                                 {"type": "number", "minimum": MIN_CHUNK_SECONDS,
                                  "maximum": MAX_CHUNK_SECONDS}]})] = None
    # A quick look: half the width and height, the fastest encoder settings; the same
    # frames, cuts and sound.
    preview: Flag = False
    # Reuse the owner's cached pieces (the render cache); false: render every piece anew
    # and refresh the cache's entries with them.
    cache: Flag = True



def _version(value: Any) -> Any:
    # A number 1 / 1.0 is the same version; anything else fails the Literal.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 1:
        return "1.0"
    return value


def _half_even(size: int) -> int:
    return max(2, (size + 2) // 4 * 2)  # half, to the nearest even number (halves up)



def _crf_by_format(schema: dict) -> None:
    # H.264 (mp4, mov) takes crf 0-51, VP9 (webm) 0-63: `_crf_for_codec`'s rule. The format
    # is required, so exactly one alternative holds.
    h264_crf = {"anyOf": [{"type": "null"}, {"type": "number", "maximum": 51}]}
    schema["oneOf"] = [
        {"title": "VP9", "properties": {"video_output_format": {"const": "webm"}}},
        {"title": "H.264", "properties": {
            "video_output_format": {"enum": ["mp4", "mov"]},
            "render_options": {"anyOf": [
                {"type": "null"}, {"type": "object", "properties": {"crf": h264_crf}}]}}},
    ]


class VideoEdit(_Part):
    """The whole edit, as `VideoEditCreate` of the `videojungle` client serializes it."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_crf_by_format)

    name: Optional[str] = Field(None, max_length=200)  # stored in a 200-character column
    description: Optional[str] = Field(None, max_length=10_000)
    video_edit_version: Annotated[Literal["1.0"], BeforeValidator(_version),
                                  WithJsonSchema({"enum": ["1.0", 1]})]
    video_output_format: Annotated[Literal["mp4", "mov", "webm"], BeforeValidator(lower)]
    video_output_resolution: Resolution
    video_output_fps: Number = Field(ge=1, le=120)
    # Something must be left once separators, dots and controls are gone (sanitize_filename).
    video_output_filename: str = Field(min_length=1, max_length=200,
                                       pattern=patterns.SOME_NAME)
    skip_rendering: Flag = False
    video_series_sequential: list[Clip] = Field(min_length=1, max_length=500)
    audio_overlay: Annotated[list[AudioOverlay], BeforeValidator(none_is_empty)] = Field(
        default_factory=list, max_length=50)
    subtitles: Optional[Flag] = None
    subtitle_from_audio_overlay: Optional[Any] = None
    auto_vertical_crop: Optional[
        Annotated[Literal["standard", "tight", "loose"], BeforeValidator(lower)]
    ] = None
    render_options: Optional[RenderOptions] = None
    # (ext) Where Canopy POSTs the finished render's status (a signed webhook).
    callback_url: Optional[CallbackUrl] = None

    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("skip_rendering", mode="before")
    @classmethod
    def _none_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @field_validator("video_output_filename")
    @classmethod
    def _sanitize(cls, value: str, info: ValidationInfo) -> str:
        return sanitize_filename(value, info.data.get("video_output_format") or "mp4")

    @field_validator("render_options")
    @classmethod
    def _crf_for_codec(cls, options: Optional[RenderOptions], info: ValidationInfo):
        fmt = info.data.get("video_output_format")
        if options and options.crf is not None and fmt != "webm" and options.crf > 51:
            raise ValueError("crf must be 0-51 for H.264 (0-63 for webm's VP9)")
        return options

    @model_validator(mode="wrap")
    @classmethod
    def _collect_warnings(cls, data: Any, handler: Any) -> "VideoEdit":
        edit = handler(data)
        if isinstance(data, Mapping):
            edit._warnings = _input_warnings(data)
        return edit

    def __eq__(self, other: object) -> bool:
        # The same edit whatever warnings its input carried (a stored dump has none).
        if not isinstance(other, VideoEdit):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    @property
    def warnings(self) -> list[str]:
        """Unknown keys and ignored features found in the input."""
        return list(self._warnings)

    @property
    def width(self) -> int:
        return int(self.video_output_resolution.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.video_output_resolution.split("x")[1])

    @property
    def preview(self) -> bool:
        return bool(self.render_options and self.render_options.preview)

    @property
    def use_cache(self) -> bool:
        """Whether the render may reuse cached pieces (render_options.cache)."""
        return not self.render_options or self.render_options.cache

    @property
    def output_size(self) -> tuple[int, int]:
        """The rendered picture's size: the resolution asked for, or half of it (rounded
        to even) for a preview."""
        if not self.preview:
            return self.width, self.height
        return _half_even(self.width), _half_even(self.height)

    @property
    def fps(self) -> Fraction:
        """The exact output rate: NTSC decimals become n*1000/1001."""
        for decimal, exact in NTSC_RATES.items():
            if abs(self.video_output_fps - decimal) < 0.0015:
                return exact
        return Fraction(repr(self.video_output_fps)).limit_denominator(1000)

    @property
    def encoder(self) -> str:
        return self.render_options.encoder if self.render_options else "auto"

    def chunk_seconds(self, default: float) -> float:
        """Seconds per piece: the edit's render_options.chunk_seconds, else `default`."""
        given = self.render_options.chunk_seconds if self.render_options else None
        return default if given is None else given

    def source_uses(self) -> list[SourceUse]:
        """Every place the edit names a source: the clips in order, then the overlays."""
        uses = [SourceUse(c.video_id, c.type, ("video_series_sequential", i, "video_id"), c)
                for i, c in enumerate(self.video_series_sequential)]
        return uses + [SourceUse(o.audio_id, None, ("audio_overlay", i, "audio_id"), o)
                       for i, o in enumerate(self.audio_overlay)]

    def source_ids(self) -> dict[str, Optional[str]]:
        """Each source id once, in order of first use, with the type it was first named with."""
        ids: dict[str, Optional[str]] = {}
        for use in self.source_uses():
            ids.setdefault(use.id, use.type)
        return ids


def parse_edit(data: Any) -> tuple[VideoEdit, list[str]]:
    """Validate an edit body; returns the edit and its warnings."""
    edit = VideoEdit.model_validate(data)
    return edit, edit.warnings


class _Callback(_Part):
    callback_url: Optional[CallbackUrl] = None


def callback_url_of(data: Any) -> str | None:
    """The callback_url of a stored (validated) edit, without validating all of it again;
    None for one that no longer passes (a finish must never fail on it)."""
    if not isinstance(data, Mapping):
        return None
    try:
        return _Callback.model_validate({"callback_url": data.get("callback_url")}).callback_url
    except ValidationError:
        return None


def _input_warnings(data: Mapping) -> list[str]:
    warnings = [f"unknown key {path!r} ignored" for path in unknown_keys(data)]
    if data.get("subtitles"):
        warnings.append("subtitles: no speech recognition here, ignored")
    if data.get("subtitle_from_audio_overlay"):
        warnings.append("subtitle_from_audio_overlay: no speech recognition here, ignored")
    return warnings


_NESTED = {
    "video_series_sequential": Clip,
    "audio_overlay": AudioOverlay,
    "audio_levels": AudioLevel,
    "crop": Crop,
    "render_options": RenderOptions,
}


def unknown_keys(data: Mapping, model: type[BaseModel] = VideoEdit, prefix: str = "") -> list[str]:
    """Dotted paths of the keys no model knows, e.g. 'video_series_sequential.0.colour'."""
    found = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in model.model_fields:
            found.append(path)
            continue
        child = _NESTED.get(key)
        if child is None:
            continue
        if isinstance(value, Mapping):
            found += unknown_keys(value, child, f"{path}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    found += unknown_keys(item, child, f"{path}.{i}.")
    return found
