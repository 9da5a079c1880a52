"""Domain errors: each carries the HTTP status the API answers with.

Services raise these; `api/errors.py` turns every one of them into FastAPI-shaped JSON.
"""
from __future__ import annotations


class CanopyError(Exception):
    status = 400

    def __init__(self, detail="bad request"):
        super().__init__(detail)
        self.detail = detail


class Unauthorized(CanopyError):
    status = 401


class NotFound(CanopyError):
    status = 404

    def __init__(self, detail="Not Found"):
        super().__init__(detail)


class Conflict(CanopyError):
    status = 409


class PayloadTooLarge(CanopyError):
    status = 413


class NotImplementedByCanopy(CanopyError):
    status = 501


class Unprocessable(CanopyError):
    """422 with a FastAPI-style list: [{"loc": [...], "msg": "...", "type": "..."}]."""

    status = 422

    def __init__(self, errors: list[dict]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def field(cls, loc, msg: str, type_: str = "value_error") -> "Unprocessable":
        return cls([{"loc": list(loc), "msg": msg, "type": type_}])
