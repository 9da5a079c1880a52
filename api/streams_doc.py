"""`GET /assets/{id}/events` in the API document: what a stream sends (api/streams.py), event
by event, and its answers when no stream is opened."""
from __future__ import annotations

from .openapi import RAW_RESPONSES
from .schemas import AssetStatus, ErrorOut

REF = "#/components/schemas/{}"
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}


def _event(name: str, data: dict, with_id: bool, about: str) -> dict:
    properties = {
        "event": {"const": name},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        "retry": {"type": "integer", "description": "on the stream's first event: 2000 (ms)"},
    }
    if with_id:
        properties["id"] = {"type": "string", "pattern": "^[0-9]+$",
                            "description": "the asset's revision: send it back as Last-Event-ID"}
    return {"type": "object", "title": name, "description": about, "properties": properties,
            "required": ["event", "data", *(["id"] if with_id else [])]}


STATE = {"$ref": REF.format(AssetStatus.__name__)}
# OpenAPI 3.1: the `schema` of an event stream describes each event, as the fields of its
# lines (`data`: one line of JSON, described by its contentSchema). The stream opens with
# `retry: 2000`; a comment line (`: keep-alive`) follows every idle CANOPY_EVENTS_KEEPALIVE
# seconds; it ends after a finished status or `deleted`.
EVENT = {"oneOf": [
    _event("status", STATE, True, "the status changed (the first event is always one)"),
    _event("progress", STATE, True, "the same status, further on"),
    _event("deleted", {"type": "object", "properties": {"id": {"type": "string"}},
                       "required": ["id"]}, False, "the asset was deleted: the stream ends"),
]}
STREAM = {
    "description": "Server-Sent Events: `retry: 2000`, then events, each `id:` (status and "
                   "progress), `event:` and one `data:` line of JSON, and a `: keep-alive` "
                   "comment line on an idle stream",
    "content": {"text/event-stream": {"schema": EVENT}},
}


def _refused(about: str) -> dict:
    return {"description": about, "headers": RETRY_AFTER,
            "content": {"application/json": {"schema": {"$ref": REF.format(ErrorOut.__name__)}}}}


RESPONSES = {
    200: {"description": STREAM["description"]},  # its content: EXTENSIONS
    204: {"description": "The client has the last event already (its Last-Event-ID)"},
    429: _refused("The caller holds CANOPY_STREAMS_PER_USER streams already; close one or "
                  "poll /assets/{id}/status"),
    503: _refused("This server process holds as many streams as it may, or is stopping; retry"),
}
EXTENSIONS = {RAW_RESPONSES: {"200": STREAM}}
