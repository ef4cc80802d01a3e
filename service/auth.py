"""Bearer-key checks: full keys may do anything, ingest keys may only POST runs."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from flask import request

from service.errors import ApiError

FULL, INGEST = "full", "ingest"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Keyring:
    """Holds digests, never keys, so a key cannot leak through a repr or a traceback."""

    def __init__(self, full: list[str], ingest: list[str]):
        self._full = [_digest(k) for k in full]
        self._ingest = [_digest(k) for k in ingest]

    @property
    def empty(self) -> bool:
        return not self._full and not self._ingest

    def scope_of(self, presented: str) -> str | None:
        digest = _digest(presented)
        # Compare against every key so the time taken does not reveal which list matched.
        full = any([hmac.compare_digest(digest, k) for k in self._full])
        ingest = any([hmac.compare_digest(digest, k) for k in self._ingest])
        return FULL if full else INGEST if ingest else None


def read_or_create_key_file(path: Path) -> tuple[str, bool]:
    """The key stored in `path`, creating it (mode 0600) with a new random key on first use."""
    if path.exists():
        return path.read_text().strip(), False
    key = "bk_" + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 0600 in one call, so the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, True


def require(scope: str) -> Callable:
    """Decorator for views: `require(INGEST)` admits both kinds of key, `require(FULL)` only full keys."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            from service.app_context import current

            keyring = current().keyring
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'")
            granted = keyring.scope_of(presented.strip())
            if granted is None:
                raise ApiError(401, "unauthorized", "invalid API key")
            if scope == FULL and granted != FULL:
                raise ApiError(403, "forbidden", "this key may only log runs (POST /v1/runs)")
            return view(*args, **kwargs)

        return wrapper

    return decorate
