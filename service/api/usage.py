"""GET /v1/usage: token and cost totals by day, model or workflow."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request
from pydantic import ValidationError

from service import usage as usage_queries
from service.app_context import current
from service.auth import FULL, require
from service.errors import ApiError, from_validation

bp = Blueprint("usage", __name__, url_prefix="/v1")


@bp.get("/usage")
@require(FULL)
def index():
    """Usage rows and totals; dates are inclusive local days, default the last 30."""
    try:
        query = usage_queries.UsageQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    ctx = current()
    try:
        return usage_queries.usage(ctx.db, query, datetime.now(ctx.settings.tz).date())
    except usage_queries.RangeTooLarge as exc:
        raise ApiError(
            422,
            "validation_error",
            f"start: {exc}",
            [{"field": "start", "message": str(exc), "type": "range_too_large"}],
        ) from exc
    except ValueError as exc:  # a start after today with no end: the range would run backwards
        raise ApiError(
            422,
            "validation_error",
            f"start: {exc}",
            [{"field": "start", "message": str(exc), "type": "value_error"}],
        ) from exc
