"""Webhook subscriptions: create (the secret is shown once), list, delete, and send a test alert."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, select, update

from service import alerts
from service.app_context import current
from service.auth import FULL, require
from service.db import deliveries, webhooks
from service.errors import ApiError, from_validation
from service.ssrf import check_url

bp = Blueprint("webhooks", __name__, url_prefix="/v1")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2000)
    events: list[Literal[alerts.APPROACHING, alerts.REACHED, alerts.RECEDED, alerts.FREETIER, alerts.TEST]] | None = (
        Field(default=None, description="Event types to receive; default: all")
    )
    format: Literal["standard", "slack"] = "standard"
    description: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        check_url(value, current().settings.webhook_allowed_hosts)
        return value


def shown_url(url: str, fmt: str) -> str:
    """The URL as listings show it: a Slack incoming-webhook path is itself a secret, and so may a query be."""
    parts = urlsplit(url)
    path = "/…" if fmt == "slack" else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, "…" if parts.query else "", ""))


def _public(row) -> dict:
    return {
        "id": row.id,
        "url": shown_url(row.url, row.format),
        "events": json.loads(row.events) or list(alerts.EVENT_TYPES),
        "format": row.format,
        "description": row.description,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at.replace(tzinfo=UTC).isoformat(),
    }


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    return body


@bp.post("/webhooks")
@require(FULL)
def create():
    """Subscribe a URL to alerts; the response carries the signing secret, shown only this once."""
    try:
        subscription = WebhookIn.model_validate(_json_body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    row = {
        "id": alerts.new_id("wh"),
        "url": subscription.url,
        "events": json.dumps(subscription.events or []),
        "format": subscription.format,
        "description": subscription.description,
        "secret": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "enabled": True,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
    }
    with current().db.write() as conn:
        conn.execute(webhooks.insert().values(**row))
        stored = conn.execute(select(webhooks).where(webhooks.c.id == row["id"])).one()
    return {**_public(stored), "secret": row["secret"]}, 201


@bp.get("/webhooks")
@require(FULL)
def index():
    """List subscriptions (never their secrets)."""
    with current().db.read() as conn:
        rows = conn.execute(select(webhooks).order_by(webhooks.c.created_at)).all()
    return {"webhooks": [_public(row) for row in rows]}


@bp.delete("/webhooks/<webhook_id>")
@require(FULL)
def remove(webhook_id: str):
    """Unsubscribe; pending deliveries to it are cancelled, past ones stay in the alert history."""
    with current().db.write() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.target == webhook_id, deliveries.c.status == "pending")
            .values(status="cancelled", last_error="subscription deleted")
        )
        if conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id)).rowcount == 0:
            raise ApiError(404, "not_found", f"no webhook {webhook_id!r}")
    return "", 204


@bp.post("/webhooks/<webhook_id>/test")
@require(FULL)
def test(webhook_id: str):
    """Send a signed `test` alert to this subscription now and report how the receiver answered."""
    from service.checks import CheckRuntime
    from service.delivery import deliver_due

    ctx = current()
    with ctx.db.read() as conn:
        if conn.scalar(select(webhooks.c.id).where(webhooks.c.id == webhook_id)) is None:
            raise ApiError(404, "not_found", f"no webhook {webhook_id!r}")
    now = datetime.now(ctx.settings.tz)
    data = {
        "message": "Test alert from Breakeven: your webhook receives and verifies alerts.",
        "webhook_id": webhook_id,
        "as_of": now.isoformat(timespec="seconds"),
    }
    # A fresh plan value per test keeps the once-a-day rule from swallowing repeated tests.
    alert_id = alerts.raise_alert(
        ctx.db,
        ctx.settings,
        alerts.TEST,
        "breakeven",
        webhook_id,
        alerts.new_id("test"),
        now.date(),
        data,
        only_webhook=webhook_id,
    )
    deliver_due(CheckRuntime.from_settings(ctx.settings, db=ctx.db, catalogue=ctx.catalogue))
    with ctx.db.read() as conn:
        delivery = conn.execute(select(deliveries).where(deliveries.c.alert_id == alert_id)).one()
    return {"alert_id": alert_id, "delivery": delivery_view(delivery)}


def delivery_view(row) -> dict:
    def stamp(value):
        return value.replace(tzinfo=UTC).isoformat() if value else None

    return {
        "target": row.target,
        "url": shown_url(row.url, row.format),
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "next_attempt_at": stamp(row.next_attempt_at) if row.status == "pending" else None,
        "delivered_at": stamp(row.delivered_at),
    }
