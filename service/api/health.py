"""Liveness and readiness probes; no key needed."""

from flask import Blueprint
from sqlalchemy import text

from service.app_context import current
from service.errors import ApiError

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The database answers: ready to take runs."""
    try:
        with current().db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready; the class name is enough for an operator
        raise ApiError(503, "not_ready", f"database unavailable ({type(exc).__name__})") from exc
    return {"status": "ready"}
