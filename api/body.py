"""Request bodies: strict JSON (or the seed's form fields) parsed into models, with size caps.

JSON anywhere in the API is parsed by `StrictJSONProvider`: NaN/Infinity (spelled so, or a
number past a float's range such as 1e400), NUL characters and absurd nesting are a 400, never
a 500 or a value the database refuses (or stores as invalid JSON) later.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel

from shared.errors import CanopyError

M = TypeVar("M", bound=BaseModel)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Bodies other than file uploads are small; past this they are a 413.
BODY_LIMIT = 1024 * 1024
UPLOAD_ENDPOINTS = {"video_files.upload_video", "assets.upload", "files.upload"}


class MalformedBody(CanopyError, ValueError):
    """A 400; a ValueError too, so that `request.get_json(silent=True)` treats it as bad JSON."""


def _no_constants(name: str):
    raise MalformedBody(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise MalformedBody(f"{text} is not a JSON number Canopy can store: out of range")
    return value


# A lone surrogate ("\ud800" in JSON) is no character: UTF-8 cannot encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def reject_unstorable(value: Any) -> None:
    """Text a database cannot store: NUL (PostgreSQL text cannot hold it; no field of ours
    needs one) and lone surrogates (not Unicode text at all)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise MalformedBody("NUL characters are not accepted")
        if _SURROGATE.search(value):
            raise MalformedBody("the body has a lone surrogate (\\ud800-\\udfff), which is no "
                                "character")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_unstorable(key)
            reject_unstorable(item)
    elif isinstance(value, list):
        for item in value:
            reject_unstorable(item)


class StrictJSONProvider(DefaultJSONProvider):
    sort_keys = False

    def loads(self, s, **kwargs):
        try:
            value = json.loads(s, parse_constant=_no_constants, parse_float=_finite_float,
                               **kwargs)
            reject_unstorable(value)
        except RecursionError:
            raise MalformedBody("JSON nested too deeply") from None
        return value


def json_payload() -> Any:
    """The body as JSON whatever its content type; None when empty; 400 when malformed."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return current_app.json.loads(raw)
    except MalformedBody:
        raise
    except ValueError:
        raise MalformedBody("Malformed JSON body") from None


def parse_body(model: type[M]) -> M:
    """A validated `model`; pydantic's ValidationError becomes a 422 naming `body.<field>`."""
    if request.mimetype in FORM_TYPES:
        fields = request.form.to_dict()
        reject_unstorable(fields)
        return model.model_validate(fields)
    return model.model_validate(json_payload())


def cap_body_size() -> None:
    """Runs before every view: only upload endpoints may receive more than BODY_LIMIT."""
    if request.endpoint not in UPLOAD_ENDPOINTS:
        request.max_content_length = BODY_LIMIT


def init_app(app: Flask) -> None:
    app.json = StrictJSONProvider(app)
    app.before_request(cap_body_size)


def body_doc(model: type[BaseModel], form: bool = False) -> dict:
    """OpenAPI `requestBody` for a view that parses its body with `parse_body`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # registered as components by `register_components`
    content = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": form_schema(schema)}
    return {"requestBody": {"required": True, "content": content}}


def form_schema(schema: dict) -> dict:
    """`schema` as form fields can say it: every field a string (a form has no null, number
    or object), so a field's other alternatives are dropped."""
    fields = {}
    for name, field in schema["properties"].items():
        strings = [alt for alt in field.get("anyOf", [field]) if alt.get("type") == "string"]
        kept = {k: v for k, v in field.items() if k not in ("anyOf", "type")
                and not (k == "default" and not isinstance(v, str))}
        fields[name] = {**kept, **strings[0]} if len(strings) == 1 else {**kept, "anyOf": strings}
    return {**schema, "properties": fields}


def upload_doc() -> dict:
    """OpenAPI `requestBody` for a view that streams a multipart `file` (`receive_file`)."""
    schema = {"type": "object", "required": ["file"],
              "properties": {"file": {"type": "string", "format": "binary", "minLength": 1,
                                      "description": "the media file's bytes (not empty)"}}}
    return {"requestBody": {"required": True,
                            "content": {"multipart/form-data": {"schema": schema}}}}


def component_schemas(*models: type[BaseModel]) -> dict[str, dict]:
    """The `$defs` of `models`, to add to the OpenAPI document's components."""
    found: dict[str, dict] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(schema.get("$defs", {}))
    return found
