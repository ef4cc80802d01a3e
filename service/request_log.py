"""One log line per request: request id, method, path, status, duration (JSON when BREAKEVEN_LOG_FORMAT=json).

What is never written: headers (Authorization carries the key), query strings (a client may put a key or a
token there), bodies (webhook secrets travel in a response body), and any path segment that is one of the
configured keys or looks like a webhook secret, because a key pasted into the address bar ends up in the path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Flask, g, request

LOGGER_NAME = "breakeven.request"
REQUEST_ID_HEADER = "X-Request-ID"
# A client's own id is kept when it is short and plain, so it can be followed across services; anything
# else is replaced, since it would be written into the log as given.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_PATH = 300
MAX_SEGMENTS = 12
REDACTED = "[redacted]"
_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=_-]*")

log = logging.getLogger(LOGGER_NAME)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of writing (gunicorn's worker, or a test's capture)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            **getattr(record, "fields", {"message": record.getMessage()}),
        }
        return json.dumps(entry, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields = getattr(record, "fields", None)
        if fields is None:
            return f"{stamp} {record.levelname} {record.name}: {record.getMessage()}"
        return stamp + " " + " ".join(f"{key}={value}" for key, value in fields.items())


def _printable(text: str) -> str:
    # Werkzeug has decoded %0A, %20 and friends; quoted again, a path cannot forge a line or a field.
    return quote(text, safe="/:@!$&'()*+,;=-._~[]")


def safe_path(path: str, is_key) -> str:
    """The path as logged: webhook secrets and configured keys replaced, control characters escaped."""
    # A secret's base64 may hold "/", so it runs to the end of its base64 characters, not of a segment.
    path = _SECRET.sub(REDACTED, path[: MAX_PATH * 2])
    segments = path.split("/")[:MAX_SEGMENTS]
    # A configured key may hold "/" too: every run of consecutive segments is checked (a few dozen digests).
    hidden = set()
    for start in range(len(segments)):
        for end in range(start + 1, len(segments) + 1):
            candidate = "/".join(segments[start:end])
            if candidate and is_key(candidate):
                hidden.update(range(start, end))
    shown = [REDACTED if i in hidden else seg for i, seg in enumerate(segments)]
    text = _printable("/".join(shown))
    return text if len(text) <= MAX_PATH else text[:MAX_PATH] + "..."


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _CLIENT_ID.fullmatch(given) else secrets.token_hex(8)


def configure_logger(log_format: str) -> None:
    """Sends request lines to stderr in the chosen format; once per process, whatever the number of apps."""
    formatter = JsonFormatter() if log_format.strip().lower() == "json" else TextFormatter()
    handler = next((h for h in log.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        log.addHandler(handler)
    handler.setFormatter(formatter)
    log.setLevel(logging.INFO)
    # Our own handler writes the line; propagating would print it again through gunicorn's or the root's.
    log.propagate = False


def init_app(app: Flask, log_format: str) -> None:
    from service.app_context import EXTENSION

    configure_logger(log_format)

    def is_key(segment: str) -> bool:
        return app.extensions[EXTENSION].keyring.scope_of(segment) is not None

    @app.before_request
    def _begin() -> None:
        g.request_id = _request_id()
        g.request_started = time.perf_counter()

    @app.after_request
    def _end(response):
        request_id = g.get("request_id") or _request_id()
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        response.headers[REQUEST_ID_HEADER] = request_id
        fields = {
            "request_id": request_id,
            "method": _printable(request.method[:16]),
            "path": safe_path(request.path, is_key),
            "status": response.status_code,
            "duration_ms": round(duration_ms, 2),
            "pid": os.getpid(),
        }
        log.info("%s %s %s", fields["method"], fields["path"], fields["status"], extra={"fields": fields})
        return response
