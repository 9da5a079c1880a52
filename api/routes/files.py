"""Signed links of the local-disk store: downloads (with Range) and `direct` uploads.

Only the `file://` backend hands out `/files/` links; with S3 every path here is a 404.
Errors are domain errors (shared.errors) that api/errors.py turns into JSON.
"""
from __future__ import annotations

import mimetypes
import re

from flask import Blueprint, Response, jsonify, request

from api.context import get_settings, get_storage
from api.errors import json_error
from api.services import uploads
from shared.errors import CanopyError, NotFound, PayloadTooLarge
from shared.storage import (
    InvalidKey,
    LinkError,
    LocalStorage,
    ObjectNotFound,
    TooLarge,
    content_disposition,
)

bp = Blueprint("files", __name__)

# A suffix range of zero bytes: valid syntax (werkzeug reads it as no header) that no
# byte satisfies (RFC 9110 14.1.1), so a 416, not the whole object.
_EMPTY_SUFFIX = re.compile(r"\s*bytes\s*=\s*-0+\s*", re.IGNORECASE)


class LinkRefused(CanopyError):
    """A `/files/` link with a wrong signature, or past its expiry."""

    status = 403


class RangeNotSatisfiable(CanopyError):
    status = 416

    def __init__(self, size: int):
        super().__init__("requested range not satisfiable")
        self.size = size


@bp.errorhandler(RangeNotSatisfiable)
def _unsatisfiable(exc: RangeNotSatisfiable):
    # RFC 9110: a 416 tells the client the current length.
    return json_error(416, exc.detail, headers={"Content-Range": f"bytes */{exc.size}"})


def _checked_link(key: str, method: str) -> tuple[LocalStorage, str | None]:
    """The store and the link's file name, once the link's signature and expiry hold."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise NotFound()
    try:
        return storage, storage.verify_link(key, request.args, method)
    except InvalidKey:
        raise NotFound() from None
    except LinkError as exc:
        raise LinkRefused(exc.reason) from None


def _byte_range(size: int) -> tuple[int, int] | None:
    """`(start, end)` asked for by a single-range `Range` header, or None for the whole.

    Several ranges are answered with the whole object, which RFC 9110 allows; so are a
    header that does not parse or names another unit, which it says to ignore."""
    ranges = request.range
    if ranges is None and _EMPTY_SUFFIX.fullmatch(request.headers.get("Range", "")):
        raise RangeNotSatisfiable(size)
    if ranges is None or ranges.units != "bytes" or len(ranges.ranges) > 1:
        return None
    (start, end), = ranges.ranges
    if start < 0 and end is None and size > 0:  # the last -start bytes: all, when fewer
        return max(size + start, 0), size
    span = ranges.range_for_length(size)
    if span is None:
        raise RangeNotSatisfiable(size)
    return span


@bp.get("/files/<path:key>")
def download(key: str):
    """Stream a stored object to the holder of a signed link, honouring `Range`."""
    storage, filename = _checked_link(key, "GET")
    try:
        size = storage.size(key)
    except (ObjectNotFound, InvalidKey):  # InvalidKey: a symlink out of the store
        raise NotFound("object not found") from None
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
    if not uploads.expects_direct_upload(key):
        raise NotFound("no upload is expected here any more: its video file, asset or "
                       "project was deleted")
    limit = get_settings().max_upload_bytes
    too_large = f"upload is larger than the limit of {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(too_large)
    try:
        size = storage.put_stream(key, request.stream, request.mimetype or None, limit=limit)
    except TooLarge:
        raise PayloadTooLarge(too_large) from None
    except InvalidKey:
        raise NotFound() from None
    return jsonify(key=key, size=size)
