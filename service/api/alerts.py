"""GET /v1/alerts: alert history with each delivery's outcome."""

from __future__ import annotations

import json
from datetime import UTC

from flask import Blueprint, request
from sqlalchemy import select

from service.api.webhooks import delivery_view
from service.app_context import current
from service.auth import FULL, require
from service.db import alerts, deliveries
from service.errors import ApiError

bp = Blueprint("alerts", __name__, url_prefix="/v1")


@bp.get("/alerts")
@require(FULL)
def index():
    """Most recent alerts first (`limit`, default 50, at most 500), each with its deliveries."""
    raw_limit = request.args.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 500:
        raise ApiError(
            422,
            "validation_error",
            "limit: must be a whole number from 1 to 500",
            [{"field": "limit", "message": "must be a whole number from 1 to 500", "type": "range"}],
        )
    with current().db.read() as conn:
        rows = conn.execute(select(alerts).order_by(alerts.c.created_at.desc()).limit(int(raw_limit))).all()
        ids = [row.id for row in rows]
        sent = conn.execute(select(deliveries).where(deliveries.c.alert_id.in_(ids)).order_by(deliveries.c.id)).all()
    by_alert: dict[str, list] = {}
    for delivery in sent:
        by_alert.setdefault(delivery.alert_id, []).append(delivery_view(delivery))
    return {
        "alerts": [
            {
                "id": row.id,
                "type": row.type,
                "provider": row.provider,
                "model": row.model,
                "plan": row.plan or None,
                "day": str(row.day)[:10],
                "created_at": row.created_at.replace(tzinfo=UTC).isoformat(),
                "data": json.loads(row.payload)["data"],
                "deliveries": by_alert.get(row.id, []),
            }
            for row in rows
        ]
    }
