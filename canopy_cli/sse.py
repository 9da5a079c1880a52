"""Server-Sent Events read from a stream of text lines, as the WHATWG spec parses them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Event:
    event: str  # "message" when the server named none
    data: str
    id: str | None  # the last id seen on the stream (ids carry over to later events)

    def json(self):
        return json.loads(self.data)


def parse(lines: Iterable[str]) -> Iterator[Event]:
    """Events from the stream's lines (without their line ends); comments are skipped."""
    kind, data, last_id = "", [], None
    for line in lines:
        if not line:  # a blank line ends an event
            if data:
                yield Event(kind or "message", "\n".join(data), last_id)
            kind, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            kind = value
        elif field == "data":
            data.append(value)
        elif field == "id" and "\0" not in value:
            last_id = value
