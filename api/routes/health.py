"""Liveness and the API document at the paths the contract names."""
from __future__ import annotations

from flask import current_app, redirect
from flask_openapi3 import APIBlueprint
from sqlalchemy import text

from ..context import get_session

bp = APIBlueprint("health", __name__, doc_ui=False)


@bp.get("/health")
def health():
    """200 when the API answers and reaches its database."""
    get_session().execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI document, generated from the request and response models."""
    return current_app.api_doc


@bp.get("/docs")
def docs():
    """The interactive API docs page."""
    return redirect("/docs/swagger")
