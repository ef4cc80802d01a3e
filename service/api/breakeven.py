"""Break-even: live status from the ledger, and what-if calculations."""

from __future__ import annotations

from flask import Blueprint, request

from service import calculator
from service.app_context import current
from service.auth import FULL, require
from service.errors import ApiError
from service.status import StatusError, live_status, models_with_runs

bp = Blueprint("breakeven", __name__, url_prefix="/v1")


def _status_or_422(conn, ctx, provider: str, model: str, plan: str | None) -> dict:
    try:
        return live_status(conn, ctx.catalogue, ctx.settings, provider, model, plan)
    except StatusError as exc:
        raise ApiError(
            422,
            "validation_error",
            f"{exc.field}: {exc}",
            [{"field": exc.field, "message": str(exc), "type": "lookup_error"}],
        ) from exc


@bp.get("/breakeven")
@require(FULL)
def status():
    """Live status for `model` (and `plan`, default the model's catalogue plan), or for every logged model."""
    unknown = set(request.args) - {"model", "provider", "plan"}
    if unknown:
        name = sorted(unknown)[0]
        raise ApiError(
            422,
            "validation_error",
            f"{name}: unknown parameter",
            [{"field": name, "message": "unknown parameter", "type": "extra_forbidden"}],
        )
    ctx = current()
    provider = request.args.get("provider", "groq")
    model, plan = request.args.get("model"), request.args.get("plan")
    with ctx.db.read() as conn:
        if model:
            return _status_or_422(conn, ctx, provider, model, plan)
        statuses = []
        for found_provider, found_model in models_with_runs(conn):
            try:
                statuses.append(live_status(conn, ctx.catalogue, ctx.settings, found_provider, found_model, plan))
            except StatusError as exc:
                statuses.append(
                    {
                        "provider": found_provider,
                        "model": found_model,
                        "level": "unchecked",
                        "verdict": str(exc),
                    }
                )
    return {"models": statuses}


@bp.post("/breakeven/calc")
@require(FULL)
def calc():
    """What-if: section 1 of DESIGN.md on the inputs given (or named from the catalogue)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object with api, workload and selfhost")
    return calculator.calculate(current().catalogue, body)
