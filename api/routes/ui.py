"""The web dashboard: one static app under `/ui/`, outside the API document.

The page itself is public; everything it shows comes from the API with the user's key,
which the app keeps in sessionStorage and sends as a Bearer header (never in a URL).
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, redirect, send_from_directory

bp = Blueprint("ui", __name__)

FILES = Path(__file__).resolve().parent.parent / "ui"
# Scripts and styles only from here; images and video may come from the store's signed links.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data: http: https:; media-src 'self' blob: http: https:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


@bp.get("/")
def root():
    return redirect("/ui/")


@bp.get("/ui")
def ui_bare():
    return redirect("/ui/")


@bp.get("/ui/")
def index():
    return send_from_directory(FILES, "index.html")


@bp.get("/ui/<path:name>")
def asset(name: str):
    return send_from_directory(FILES, name)
