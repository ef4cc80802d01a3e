"""Alerts and their deliveries, written together in one transaction (the outbox); sending is delivery.py's."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from service.config import Settings
from service.db import Database, alerts, deliveries, webhooks

APPROACHING = "breakeven.approaching"
REACHED = "breakeven.reached"
RECEDED = "breakeven.receded"
FREETIER = "freetier.approaching"
TEST = "test"
EVENT_TYPES = (APPROACHING, REACHED, RECEDED, FREETIER, TEST)
ENV_TARGET = "env"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def encode_body(event_type: str, timestamp: datetime, data: dict) -> str:
    """The exact text that is signed and sent, fixed once so every retry carries the same bytes."""
    return json.dumps(
        {
            "type": event_type,
            "timestamp": timestamp.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=False,
    )


def _targets(conn: Connection, settings: Settings, event_type: str, only_webhook: str | None) -> list[dict]:
    stmt = select(webhooks.c.id, webhooks.c.url, webhooks.c.format, webhooks.c.events).where(webhooks.c.enabled)
    if only_webhook is not None:
        stmt = stmt.where(webhooks.c.id == only_webhook)
    targets = []
    for row in conn.execute(stmt):
        events = json.loads(row.events)
        if only_webhook is not None or not events or event_type in events:
            targets.append({"target": row.id, "url": row.url, "format": row.format})
    if only_webhook is None and settings.alert_webhook_url and settings.alert_webhook_secret:
        targets.append({"target": ENV_TARGET, "url": settings.alert_webhook_url, "format": "standard"})
    return targets


def raise_alert(
    db: Database,
    settings: Settings,
    event_type: str,
    provider: str,
    model: str,
    plan: str,
    day: date,
    data: dict,
    only_webhook: str | None = None,
) -> str | None:
    """Stores the alert and one pending delivery per subscribed target, atomically. Returns the alert id, or
    None when this (type, model, plan, day) was already raised, by this process or any other."""
    created = utcnow()
    alert_id = new_id("msg")
    body = encode_body(event_type, created, data)
    with db.write() as conn:
        stmt = (
            db.insert(alerts)
            .values(
                id=alert_id,
                type=event_type,
                provider=provider,
                model=model,
                plan=plan,
                day=day,
                payload=body,
                created_at=created,
            )
            .on_conflict_do_nothing(index_elements=["type", "provider", "model", "plan", "day"])
            .returning(alerts.c.id)
        )
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT through SQLAlchemy here.
        if conn.scalar(stmt) is None:
            return None
        rows = [
            {
                "alert_id": alert_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": created,
                "created_at": created,
                **target,
            }
            for target in _targets(conn, settings, event_type, only_webhook)
        ]
        if rows:
            conn.execute(deliveries.insert(), rows)
    return alert_id


def last_breakeven_alert(conn: Connection, provider: str, model: str, plan: str) -> str | None:
    stmt = (
        select(alerts.c.type)
        .where(
            alerts.c.provider == provider,
            alerts.c.model == model,
            alerts.c.plan == plan,
            alerts.c.type.in_((APPROACHING, REACHED, RECEDED)),
        )
        .order_by(alerts.c.created_at.desc())
        .limit(1)
    )
    return conn.scalar(stmt)
