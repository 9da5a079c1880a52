"""What one field of an edit accepts: times, numbers, flags, ids, levels, URLs, sizes, names.

Each is a pydantic type (a parser and its JSON Schema, stated once) that shared/edit.py's
models are made of; the parsers are public so the API document's patterns can be tested
against them. Only pydantic and the standard library here.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Optional
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, Strict, ValidationInfo, WithJsonSchema, field_validator

from . import patterns
from .naming import clean_filename

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


def parse_uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError("must be a UUID") from None


def lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def none_is_empty(value: Any) -> Any:
    return [] if value is None else value


def end_after(start_field: str, end_field: str):
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
SourceId = Annotated[str, BeforeValidator(parse_uuid), WithJsonSchema(
    {"type": "string", "format": "uuid", "pattern": patterns.UUID})]


def parse_callback_url(value: Any) -> Any:
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


CallbackUrl = Annotated[str, BeforeValidator(parse_callback_url), WithJsonSchema(
    {"type": "string", "maxLength": 2000, "pattern": patterns.HTTP_URL})]


def parse_level(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, str)
                                   and not _NUMBER_RE.fullmatch(value.strip(_BLANK))):
        raise ValueError("a level must be a number 0-2, or one in a string (\"0.5\")")
    return float(value) if isinstance(value, str) else value


# The Video Jungle docs send levels as strings ("0.5").
Level = Annotated[float, BeforeValidator(parse_level), Field(ge=0.0, le=2.0), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 2},
              {"type": "string", "pattern": f"^[ \\t\\n\\r]*{_NUMBER_PATTERN}[ \\t\\n\\r]*$"}]})]


def parse_resolution(value: Any) -> str:
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


Resolution = Annotated[str, BeforeValidator(parse_resolution), WithJsonSchema({
    "type": "string", "pattern": patterns.sizes(MIN_SIDE, DOCUMENTED_SIZES),
    "description": f"WIDTHxHEIGHT, even sides of {MIN_SIDE}-{MAX_SIDE} pixels, at most "
                   "3840x2160 in area (a few sizes past the pattern's boxes are accepted too)"})]


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
