"""Parse a request body (JSON, or form fields as the seed's `curl -d` sends) into a model."""
from __future__ import annotations

import json
from typing import TypeVar

from flask import request
from pydantic import BaseModel

from shared.errors import CanopyError

M = TypeVar("M", bound=BaseModel)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def parse_body(model: type[M]) -> M:
    """A validated `model`; pydantic's ValidationError becomes a 422 naming `body.<field>`."""
    if request.mimetype in FORM_TYPES:
        return model.model_validate(request.form.to_dict())
    raw = request.get_data(cache=True)
    try:
        payload = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise CanopyError("Malformed JSON body") from None
    return model.model_validate(payload)


def body_doc(model: type[BaseModel], form: bool = False) -> dict:
    """OpenAPI `requestBody` for a view that parses its body with `parse_body`."""
    schema = model.model_json_schema()
    content = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"requestBody": {"required": True, "content": content}}
