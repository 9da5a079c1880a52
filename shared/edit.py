"""The edit: Video Jungle's "video_edit_version 1.0" JSON as one pydantic model.

Used by the API (422 with the field path) and by the worker (what to render). Only
pydantic and the standard library here: the API process must not need PyAV or numpy.

    edit, warnings = parse_edit(body)           # ValidationError on a rule it breaks
    warnings += check_sources(edit, infos)      # EditSourceError on a rule of the sources
    edit = clamp_to_sources(edit, infos)        # ends past the source by < 0.5 s

Times are stored as float seconds; `model_dump(mode="json")` re-validates to the same edit.
Error locations are relative to the body (the API prefixes "body").
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, Literal, NamedTuple, Optional, Union
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Strict,
    WithJsonSchema,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import patterns
from .naming import clean_filename

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
CLAMP_TOLERANCE = 0.5  # seconds an end may pass the source's end before it is an error
# The longest output a render may make (CANOPY_MAX_OUTPUT_SECONDS): an image clip's length is
# whatever the edit says, so without a cap one clip could render for ever.
MAX_OUTPUT_SECONDS = 4 * 3600
MAX_AREA = 3840 * 2160
MIN_SIDE, MAX_SIDE = 16, 4096
# A pattern cannot multiply: the document allows these boxes, each within MAX_AREA.
DOCUMENTED_SIZES = ((3840, 2160), (2160, 3840), (2880, 2880))
_MEDIA_EXTENSIONS = {"mp4", "mov", "webm", "mkv", "m4v", "avi", "mpg", "mpeg", "ts", "gif"}
# ASCII digits only: Python's \d, int() and float() also take other scripts' digits ("٣").
_TIME_RE = re.compile(r"(?:([0-9]+):)?(?:([0-9]+):)?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BLANK = " \t\n\r"  # what may surround a time or a number in a string (JSON's whitespace)
# The same forms for the API document (JSON Schema's regex dialect).
_NUMBER_PATTERN = r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
# The client's models read a number of seconds as a UTC `datetime.time`, which its
# `model_dump(mode="json")` writes "00:00:01Z": a zero UTC offset after a clock time is
# accepted and means nothing (any other offset is unparsable).
_UTC_RE = re.compile(r"([0-9]+:(?:[0-9]+:)?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:Z|[+-]00:?00)",
                     re.IGNORECASE)
_TIME_PATTERN = (r"^[ \t\n\r]*(([0-9]+:)?([0-9]+:)?([0-9]+(\.[0-9]*)?|\.[0-9]+)|"
                 r"[0-9]+:([0-9]+:)?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Z|z|[+-]00:?00)|"
                 + _NUMBER_PATTERN + r")[ \t\n\r]*$")


def parse_time(value: Any) -> float:
    """Seconds from `HH:MM:SS(.f)`, `MM:SS(.f)`, `SS(.f)`, a number or a `datetime.time`."""
    if isinstance(value, bool):
        raise ValueError("a time must be a string or a number of seconds")
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    if not isinstance(value, (int, float, str)):
        raise ValueError("a time must be a string or a number of seconds")
    try:  # a bare JSON integer or an hours field may be too large for any float
        seconds = float(value) if not isinstance(value, str) else _parse_time_string(value.strip(_BLANK))
    except OverflowError:
        raise ValueError("a time must be finite") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("a time must be finite")
    if seconds < 0:
        raise ValueError("a time must not be negative")
    return seconds


def _parse_time_string(text: str) -> float:
    utc = _UTC_RE.fullmatch(text)
    match = _TIME_RE.fullmatch(utc.group(1) if utc else text)
    if not match:
        if not _NUMBER_RE.fullmatch(text):
            raise ValueError(f"unparsable time {text!r}")
        return float(text)  # "-1" and "1e3" land here: negatives are refused later
    first, second, secs = match.groups()
    with_hours = first is not None and second is not None
    hours, minutes = (int(first), int(second)) if with_hours else (0, int(first or 0))
    # Below the leading unit, minutes and seconds stay under 60 (as datetime.time has it).
    if (first is not None and float(secs) >= 60) or (with_hours and minutes >= 60):
        raise ValueError(f"unparsable time {text!r}")
    return hours * 3600 + minutes * 60 + float(secs)


def _uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError("must be a UUID") from None


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _none_is_empty(value: Any) -> Any:
    return [] if value is None else value


def _after(start_field: str, end_field: str):
    """A validator of `end_field`: when both are given, the end comes after the start."""

    def check(end: Optional[float], info: ValidationInfo) -> Optional[float]:
        start = info.data.get(start_field)
        if end is not None and start is not None and end <= start:
            raise ValueError(f"{end_field} must be after {start_field}")
        return end

    return field_validator(end_field)(check)


Seconds = Annotated[float, BeforeValidator(parse_time), WithJsonSchema({"anyOf": [
    {"type": "number", "minimum": 0},
    {"type": "string", "pattern": _TIME_PATTERN, "description": "HH:MM:SS(.f), MM:SS(.f) or SS(.f)"},
]})]
# A JSON number, as the API document says: not true, false or "1" (pydantic's lax mode
# takes them).
Number = Annotated[float, Strict()]
# JSON's true or false, as the schema says: not 0, 1 or "yes".
Flag = Annotated[bool, Field(strict=True)]
SourceId = Annotated[str, BeforeValidator(_uuid), WithJsonSchema(
    {"type": "string", "format": "uuid", "pattern": patterns.UUID})]


def _callback_url(value: Any) -> Any:
    """The URL's form only; whether it may be called (its addresses) is shared.fetch's rule,
    checked by the API at submit and again at each delivery."""
    if not isinstance(value, str):
        raise ValueError("must be an http(s) URL string")
    value = value.strip()
    if len(value) > 2000:
        raise ValueError("at most 2000 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL with a host")
    return value


CallbackUrl = Annotated[str, BeforeValidator(_callback_url), WithJsonSchema(
    {"type": "string", "maxLength": 2000, "pattern": patterns.HTTP_URL})]


class _Part(BaseModel):
    # Unknown keys are dropped here and reported by `unknown_keys`.
    model_config = ConfigDict(extra="ignore")


def _level(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, str)
                                   and not _NUMBER_RE.fullmatch(value.strip(_BLANK))):
        raise ValueError("a level must be a number 0-2, or one in a string (\"0.5\")")
    return float(value) if isinstance(value, str) else value


# The Video Jungle docs send levels as strings ("0.5").
Level = Annotated[float, BeforeValidator(_level), Field(ge=0.0, le=2.0), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 2},
              {"type": "string", "pattern": f"^[ \\t\\n\\r]*{_NUMBER_PATTERN}[ \\t\\n\\r]*$"}]})]


class AudioLevel(_Part):
    """A level over a time range (clip source time, or output time for overlays)."""

    audio_level: Level
    start_time: Optional[Seconds] = None
    end_time: Optional[Seconds] = None

    _end_after_start = _after("start_time", "end_time")


Levels = Annotated[list[AudioLevel], BeforeValidator(_none_is_empty)]


class Crop(_Part):
    """Cover the frame, then take a window 1/zoom of it, moved by position × margin."""

    zoom: Number = Field(1.0, ge=0.1, le=10.0)
    position_x: Number = Field(0.0, ge=-1.0, le=1.0)
    position_y: Number = Field(0.0, ge=-1.0, le=1.0)


class Clip(_Part):
    """One entry of `video_series_sequential`."""

    video_id: SourceId
    type: Annotated[Literal["videofile", "asset", "image"], BeforeValidator(_lower)]
    video_start_time: Seconds
    video_end_time: Optional[Seconds] = None
    audio_levels: Levels = Field(default_factory=list)
    crop: Optional[Crop] = None

    _end_after_start = _after("video_start_time", "video_end_time")


class AudioOverlay(_Part):
    """One entry of `audio_overlay`: a track mixed over the output timeline."""

    audio_id: SourceId
    type: str = "music"
    audio_start_time: Optional[Seconds] = None
    audio_end_time: Optional[Seconds] = None
    audio_levels: Levels = Field(default_factory=list)
    source_start_time: Seconds = 0.0  # (ext) where in the source it starts playing
    loop: Flag = False  # (ext) repeat a source shorter than its window

    _end_after_start = _after("audio_start_time", "audio_end_time")


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

    encoder: Annotated[Literal["auto", "cpu", "gpu"], BeforeValidator(_lower)] = "auto"
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


def _resolution(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string 'WIDTHxHEIGHT'")
    match = re.fullmatch(r"\s*([0-9]{1,5})\s*[xX]\s*([0-9]{1,5})\s*", value)
    if not match:
        raise ValueError("must be 'WIDTHxHEIGHT', e.g. '1920x1080'")
    width, height = int(match[1]), int(match[2])
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValueError(f"width and height must be {MIN_SIDE}-{MAX_SIDE}")
    if width % 2 or height % 2:
        raise ValueError("width and height must be even")
    if width * height > MAX_AREA:
        raise ValueError("at most 3840x2160 pixels in area")
    return f"{width}x{height}"


def _version(value: Any) -> Any:
    # A number 1 / 1.0 is the same version; anything else fails the Literal.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 1:
        return "1.0"
    return value


def _half_even(size: int) -> int:
    return max(2, (size + 2) // 4 * 2)  # half, to the nearest even number (halves up)


def sanitize_filename(raw: str, fmt: str) -> str:
    """Path separators and control characters removed; the format's extension; at most 200
    characters and MAX_NAME_BYTES bytes of UTF-8 in all, as every stored name."""
    name = "".join(ch for ch in raw if ch not in "/\\" and ch.isprintable()).strip()
    name = name.lstrip(".").strip()
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in _MEDIA_EXTENSIONS:
        name = stem.rstrip()
    if not name:
        raise ValueError("filename has no usable characters")
    return clean_filename(f"{name}.{fmt}")


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
    video_output_format: Annotated[Literal["mp4", "mov", "webm"], BeforeValidator(_lower)]
    video_output_resolution: Annotated[str, BeforeValidator(_resolution), WithJsonSchema({
        "type": "string", "pattern": patterns.sizes(MIN_SIDE, DOCUMENTED_SIZES),
        "description": f"WIDTHxHEIGHT, even sides of {MIN_SIDE}-{MAX_SIDE} pixels, at most "
                       "3840x2160 in area (a few sizes past the pattern's boxes are accepted too)"})]
    video_output_fps: Number = Field(ge=1, le=120)
    # Something must be left once separators, dots and controls are gone (sanitize_filename).
    video_output_filename: str = Field(min_length=1, max_length=200,
                                       pattern=patterns.SOME_NAME)
    skip_rendering: Flag = False
    video_series_sequential: list[Clip] = Field(min_length=1, max_length=500)
    audio_overlay: Annotated[list[AudioOverlay], BeforeValidator(_none_is_empty)] = Field(
        default_factory=list, max_length=50)
    subtitles: Optional[Flag] = None
    subtitle_from_audio_overlay: Optional[Any] = None
    auto_vertical_crop: Optional[
        Annotated[Literal["standard", "tight", "loose"], BeforeValidator(_lower)]
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


# --- Rules that need the sources ---------------------------------------------------


@dataclass(frozen=True)
class SourceInfo:
    """What the API's probe (or the worker's) knows of a source."""

    kind: Literal["video", "image", "audio"]
    duration: Optional[float]  # seconds; None for still images
    has_audio: bool
    has_video: bool


class EditSourceError(ValueError):
    """The edit does not fit its sources; `errors` are FastAPI-style dicts."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def _error(loc: tuple, msg: str, kind: str = "value_error.source") -> dict:
    return {"loc": list(loc), "msg": msg, "type": kind}


def check_sources(edit: VideoEdit, sources: Mapping[str, SourceInfo],
                  max_output_seconds: float = MAX_OUTPUT_SECONDS,
                  pending: Collection[str] = ()) -> list[str]:
    """Warnings for ends clamped to their source; EditSourceError for every broken rule,
    among them an output longer than `max_output_seconds`. Sources in `pending` are still
    being analysed: only what the edit says of them is checked (the render checks the rest)."""
    errors: list[dict] = []
    warnings: list[str] = []
    for use in edit.source_uses():
        info = sources.get(use.id)
        if use.id in pending:
            continue
        if info is None:
            errors.append(_error(use.loc, f"unknown {use.loc[-1]}"))
        elif isinstance(use.part, Clip):
            _check_clip(use.loc[1], use.part, info, errors, warnings)
        else:
            _check_overlay(use.loc[1], use.part, info, errors)
    if not errors:
        _check_length(edit, sources, max_output_seconds, errors)
    if errors:
        raise EditSourceError(errors)
    return warnings


def _check_clip(i: int, clip: Clip, info: SourceInfo, errors: list, warnings: list):
    loc = ("video_series_sequential", i)
    if not info.has_video:
        errors.append(_error(loc + ("video_id",), "source has no video stream"))
        return
    if info.kind == "image" or info.duration is None:
        if clip.video_end_time is None:
            errors.append(_error(loc + ("video_end_time",), "an image clip needs an end time"))
        return
    if clip.video_start_time >= info.duration:
        errors.append(_error(loc + ("video_start_time",),
                             f"starts at or after the end of the source ({info.duration:.3f} s)"))
        return
    end = clip.video_end_time
    if end is not None and end > info.duration:
        if end - info.duration >= CLAMP_TOLERANCE:
            errors.append(_error(loc + ("video_end_time",),
                                 f"ends after the end of the source ({info.duration:.3f} s)"))
        else:
            warnings.append(f"video_series_sequential.{i}.video_end_time clamped to the "
                            f"source's end {info.duration:.3f} s")


def _check_length(edit: VideoEdit, sources: Mapping[str, SourceInfo], limit: float,
                  errors: list) -> None:
    """The clip whose end takes the output past `limit` seconds is the one named."""
    total = 0.0
    for i, clip in enumerate(edit.video_series_sequential):
        info = sources.get(clip.video_id)  # None: still being analysed, its length unknown
        end = clip_end(clip, info) if info else (clip.video_end_time or clip.video_start_time)
        total += end - clip.video_start_time
        if total > limit:
            errors.append(_error(("video_series_sequential", i, "video_end_time"),
                                 f"the output would last {total:.3f} s or more, over the "
                                 f"limit of {limit:g} s (CANOPY_MAX_OUTPUT_SECONDS)"))
            return


def _check_overlay(i: int, overlay: AudioOverlay, info: SourceInfo, errors: list):
    loc = ("audio_overlay", i)
    if not info.has_audio:
        errors.append(_error(loc + ("audio_id",), "source has no audio stream"))
    elif info.duration is not None and overlay.source_start_time >= info.duration:
        errors.append(_error(loc + ("source_start_time",),
                             f"starts at or after the end of the source ({info.duration:.3f} s)"))


def clip_end(clip: Clip, info: SourceInfo) -> float:
    """The clip's end in source time: given, clamped to the source, or the source's end."""
    if info.duration is None:
        return clip.video_end_time  # an image: check_sources made sure there is one
    if clip.video_end_time is None:
        return info.duration
    return min(clip.video_end_time, info.duration)


def clamp_to_sources(edit: VideoEdit, sources: Mapping[str, SourceInfo]) -> VideoEdit:
    """A copy whose clip ends are all explicit and within their sources."""
    clips = [
        clip.model_copy(update={"video_end_time": clip_end(clip, sources[clip.video_id])})
        for clip in edit.video_series_sequential
    ]
    copy = edit.model_copy(update={"video_series_sequential": clips})
    copy._warnings = list(edit._warnings)
    return copy
