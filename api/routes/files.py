"""Signed links of the local-disk store: downloads (with Range) and `direct` uploads.

Only the `file://` backend hands out `/files/` links; with S3 every path here is a 404.
"""
from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, jsonify, request

from api.context import get_settings, get_storage
from shared.storage import (
    InvalidKey,
    LinkError,
    LocalStorage,
    ObjectNotFound,
    TooLarge,
    content_disposition,
)

bp = Blueprint("files", __name__)


class _Refused(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


class _RangeNotSatisfiable(Exception):
    def __init__(self, size: int):
        self.size = size


@bp.errorhandler(_Refused)
def _refused(exc: _Refused):
    return jsonify(detail=exc.detail), exc.status


def _checked_link(key: str, method: str) -> tuple[LocalStorage, str | None]:
    """The store and the link's file name, once the link's signature and expiry hold."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise _Refused(404, "Not Found")
    try:
        return storage, storage.verify_link(key, request.args, method)
    except InvalidKey:
        raise _Refused(404, "Not Found") from None
    except LinkError as exc:
        raise _Refused(403, exc.reason) from None


def _byte_range(size: int) -> tuple[int, int] | None:
    """`(start, end)` asked for by a single-range `Range` header, or None for the whole.

    Several ranges are answered with the whole object, which RFC 9110 allows."""
    if "Range" not in request.headers:
        return None
    ranges = request.range
    if ranges is not None and ranges.units == "bytes" and len(ranges.ranges) > 1:
        return None
    span = ranges.range_for_length(size) if ranges is not None else None
    if span is None:
        raise _RangeNotSatisfiable(size)
    return span


@bp.errorhandler(_RangeNotSatisfiable)
def _unsatisfiable(exc: _RangeNotSatisfiable):
    response = jsonify(detail="requested range not satisfiable")
    response.status_code = 416
    response.headers["Content-Range"] = f"bytes */{exc.size}"
    return response


@bp.get("/files/<path:key>")
def download(key: str):
    """Stream a stored object to the holder of a signed link, honouring `Range`."""
    storage, filename = _checked_link(key, "GET")
    try:
        size = storage.size(key)
    except (ObjectNotFound, InvalidKey):  # InvalidKey: a symlink out of the store
        raise _Refused(404, "object not found") from None
    content_type = (filename and mimetypes.guess_type(filename)[0]) or storage.content_type(key)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(filename),
        "Cache-Control": "private, no-transform",
    }
    span = _byte_range(size)
    start, end = span or (0, size)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    # HEAD opens nothing; GET streams chunk by chunk and closes the file when done.
    body = () if request.method == "HEAD" else storage.iter_range(key, start, end)
    return Response(
        body,
        status=206 if span is not None else 200,
        headers=headers,
        content_type=content_type,
        direct_passthrough=True,
    )


@bp.put("/files/<path:key>")
def upload(key: str):
    """Store the raw request body under a key signed for PUT (a `direct` upload)."""
    storage, _ = _checked_link(key, "PUT")
    limit = get_settings().max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _Refused(413, f"upload is larger than the limit of {limit} bytes")
    try:
        size = storage.put_stream(key, request.stream, request.mimetype or None, limit=limit)
    except TooLarge as exc:
        raise _Refused(413, exc.reason) from None
    except InvalidKey:
        raise _Refused(404, "Not Found") from None
    return jsonify(key=key, size=size)
