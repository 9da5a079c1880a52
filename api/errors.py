"""Every error the API answers is JSON with a `detail`, shaped as FastAPI does (the client reads it)."""
from __future__ import annotations

import json
import logging

from flask import Flask, Response, current_app, request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from shared.db import violation
from shared.errors import CanopyError

log = logging.getLogger(__name__)


def json_error(status: int, detail, headers: dict | None = None) -> Response:
    return Response(
        json.dumps({"detail": detail}), status=status, mimetype="application/json", headers=headers
    )


def pydantic_errors(exc: ValidationError, prefix: str) -> list[dict]:
    """pydantic's errors with the request part (`body`, `query`, `path`) first in `loc`."""
    return [
        {"loc": [prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def request_part(model_title: str) -> str:
    # Request models are named by the part they parse: ...Query, ...Path, else a body.
    if model_title.endswith("Query"):
        return "query"
    if model_title.endswith("Path"):
        return "path"
    return "body"


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's hook for request models that fail to validate."""
    part = request_part(exc.title)
    if part == "path":
        return json_error(404, "Not Found")
    if part == "body" and request.get_data(cache=True).strip():
        try:
            current_app.json.loads(request.get_data(cache=True))
        except CanopyError as bad:
            return json_error(bad.status, bad.detail)
        except ValueError:
            return json_error(400, "Malformed JSON body")
    return json_error(422, pydantic_errors(exc, part))


def init_app(app: Flask) -> None:
    @app.errorhandler(CanopyError)
    def _domain(exc: CanopyError):
        if exc.status == 422 and hasattr(exc, "errors"):
            return json_error(422, exc.errors)
        return json_error(exc.status, exc.detail, getattr(exc, "headers", None))

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return json_error(422, pydantic_errors(exc, "body"))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # flask-openapi3 aborts with a ready response for validation errors.
        if exc.response is not None:
            return exc.response
        # A description of our own says what is wrong (a malformed multipart body); werkzeug's
        # stock ones are prose for browsers, where FastAPI answers the bare name ("Not Found").
        stock = exc.description == type(exc).description
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}  # Allow
        return json_error(exc.code or 500, exc.name if stock else exc.description, headers)

    @app.errorhandler(IntegrityError)
    def _raced(exc: IntegrityError):
        # Services check that what a request names exists, then write: a row deleted between
        # the two (a prompt, a video file, the project) breaks a foreign key on the write.
        kind = violation(exc)
        if kind == "foreign_key":
            return json_error(409, "something this request refers to was deleted while it "
                                   "ran; nothing was stored")
        if kind == "unique":
            return json_error(409, "a concurrent request stored the same thing first")
        return _unexpected(exc)

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError):
        return json_error(400, "the request is nested too deeply")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "Internal Server Error")
