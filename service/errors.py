"""The one JSON error shape, `{"error": {"code", "message", "details"}}`, for every failure the API returns."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def field_path(loc: tuple[int | str, ...]) -> str:
    """("runs", 3, "prompt_tokens") -> "runs[3].prompt_tokens", the way a client would name the field."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


_FRIENDLY = {
    "extra_forbidden": "unknown field (only usage is accepted: no prompt or completion text)",
    "missing": "is required",
}


def from_validation(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> ApiError:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return ApiError(400, "invalid_json", "request body is not valid JSON")
    details = []
    for err in errors:
        message = _FRIENDLY.get(err["type"], err["msg"])
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        details.append({"field": field_path(prefix + tuple(err["loc"])), "message": message, "type": err["type"]})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    if len(details) > 5:
        summary += f"; and {len(details) - 5} more"
    return ApiError(422, "validation_error", summary, details)


def _respond(status: int, code: str, message: str, details: Any = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return _respond(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        err = from_validation(exc)
        return _respond(err.status, err.code, err.message, err.details)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        if exc.code == 413:
            return _respond(413, "payload_too_large", "request body is larger than 1 MB")
        response = _respond(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            # RFC 9110: a 405 lists the methods the resource does support.
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return _respond(500, "internal_error", "internal error; see the server log")
