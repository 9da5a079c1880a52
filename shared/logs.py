"""Log lines for people (`text`) or for machines (`json`, one object a line): CANOPY_LOG_FORMAT.

Structured fields travel in `extra={"fields": {...}}`; both formats print them, text as
`key=value` after the message, JSON as keys of the line's object:

    log.info("render claimed", extra=fields(job_id=job, attempt=1, queued_s=0.8))
"""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

FORMATS = ("text", "json")

# Query parameters that make a link usable (a signed link is valid for a day): a log line
# keeps the link without their values. The store's own links sign with `signature`; S3's
# presigned ones with `X-Amz-Signature` (and a session's `X-Amz-Security-Token`).
SECRET_PARAMS = ("signature", "x-amz-signature", "x-amz-security-token")
REDACTED = "REDACTED"
# A value ends where a URL's or a JSON string's would: at `&`, `#`, a quote, a backslash (of
# a JSON escape), or a space.
_SECRET_VALUE = re.compile(
    r"([?&;](?:%s)=)[^&;#\s\"'\\]*" % "|".join(map(re.escape, SECRET_PARAMS)), re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with the value of every SECRET_PARAMS query parameter replaced by REDACTED."""
    return _SECRET_VALUE.sub(r"\g<1>" + REDACTED, text) if "=" in text else text


class Redacting(logging.Filter):
    """A logger's filter that redacts each record's message (for loggers whose lines are
    formatted by others' formatters: gunicorn's error log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" in message:
            record.msg, record.args = redact(message), None
        return True


def fields(**values) -> dict:
    """The `extra` of a log call that carries structured fields."""
    return {"fields": values}


def _value(value):
    return round(value, 4) if isinstance(value, float) else value


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "msg", ...fields, "exc"}: one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in getattr(record, "fields", {}).items():
            line.setdefault(key, _value(value))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        extra = getattr(record, "fields", None)
        if extra:
            text += " " + " ".join(f"{key}={_value(value)}" for key, value in extra.items())
        return text

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(log_format: str, level: int = logging.INFO) -> None:
    """One stderr handler on the root logger, in `log_format`; replaces the one an earlier
    call installed (handlers of others, such as a test runner's, stay)."""
    if log_format not in FORMATS:
        raise ValueError(f"CANOPY_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.canopy = True
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "canopy", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
