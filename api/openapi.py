"""The API document: flask-openapi3's, from the views' models, plus what every view can answer
without saying so: that it needs an API key, its errors, and the FastAPI-shaped 422.

Which errors an operation can answer follows from its shape (a path id, a body, a write), so
that a new view is documented like its neighbours.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from html.parser import HTMLParser

from flask import request
from flask_openapi3 import OpenAPI

from .body import BODY_LIMIT
from .schemas import ErrorOut

REF = "#/components/schemas/{}"
# Either scheme authenticates (api/auth.py); /health and the document itself need none.
SECURITY = [{"ApiKey": []}, {"Bearer": []}]
ERRORS = {
    400: "Malformed request: JSON that does not parse, NUL characters or lone surrogates, "
         "numbers out of range",
    401: "No API key, or an unknown one",
    404: "No such resource among the caller's (another owner's is not found either)",
    409: "The resource's state forbids it now, or something the request names was "
         "deleted while it ran",
    413: f"The body is larger than the limit ({BODY_LIMIT // 2**20} MiB; uploads: "
         "CANOPY_MAX_UPLOAD_BYTES)",
    422: "A field breaks a rule: `detail` lists each one with its location",
}
CHANGES = {"post", "put"}  # they check, then write: a race, or the resource's state, says 409


# The pages under /docs (flask-openapi3's Swagger UI) load their scripts, styles and the
# document from here; their few inline scripts and handlers are allowed by hash. Styles may
# be inline: Swagger UI's syntax highlighter writes style attributes as it renders.
DOCS_BLUEPRINTS = {"openapi", "swagger"}
DOCS_CSP = ("default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class CanopyOpenAPI(OpenAPI):
    """flask-openapi3's app whose document also lists each operation's error answers, and
    whose /docs pages carry a Content-Security-Policy."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.after_request(_docs_headers)

    def generate_spec_json(self):
        super().generate_spec_json()
        document_errors(self.spec_json, self.validation_error_model.__name__)
        for item in self.spec_json["paths"].values():
            for operation in item.values():
                operation.setdefault("responses", {}).update(operation.pop(RAW_RESPONSES, {}))


# openapi_extensions key of a view: answers that go into the document as written
# (flask-openapi3's models would drop JSON Schema keywords such as contentSchema).
RAW_RESPONSES = "x-canopy-responses"


def _docs_headers(response):
    if request.blueprint not in DOCS_BLUEPRINTS:
        return response
    html = response.mimetype == "text/html" and not response.direct_passthrough
    response.headers["Content-Security-Policy"] = docs_csp(response.get_data() if html else b"")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class _Inline(HTMLParser):
    """The inline scripts and event handler attributes of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.scripts, self.handlers, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script" and not dict(attrs).get("src")
        if self._in_script:
            self.scripts.append("")
        self.handlers += [value for name, value in attrs if name.startswith("on") and value]

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _hashes(texts) -> str:
    return "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()}'"
                   for t in dict.fromkeys(texts))


@lru_cache(maxsize=32)
def docs_csp(page: bytes) -> str:
    """The policy of one /docs page: its own inline code allowed by hash, nothing else."""
    inline = _Inline()
    inline.feed(page.decode("utf-8", "replace"))
    scripts = _hashes(inline.scripts + inline.handlers)
    if inline.handlers:
        scripts += " 'unsafe-hashes'"  # a hash may allow an onclick attribute, nothing more
    return DOCS_CSP.format(scripts=scripts)


def document_errors(spec: dict, validation_model: str) -> None:
    """Add security and the error answers to every operation of `spec`, in place. The 422
    is replaced: flask-openapi3 declares an array, the API answers `{"detail": [...]}`."""
    spec["components"]["schemas"][ErrorOut.__name__] = ErrorOut.model_json_schema()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operation["security"] = SECURITY
            responses = operation.setdefault("responses", {})
            errors = _errors_of(path, method, operation)
            if 422 not in errors:  # flask-openapi3 adds one to every operation
                responses.pop("422", None)
            for status in sorted(errors):
                schema = validation_model if status == 422 else ErrorOut.__name__
                if status == 422 or str(status) not in responses:
                    responses[str(status)] = {
                        "description": ERRORS[status],
                        "content": {"application/json": {"schema": {"$ref": REF.format(schema)}}},
                    }


def _errors_of(path: str, method: str, operation: dict) -> set[int]:
    errors = {401}
    if "{" in path:
        errors.add(404)
    if method in CHANGES:
        errors |= {409, 422}
    if "requestBody" in operation:
        errors |= {400, 413, 422}
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        errors.add(422)
    return errors
