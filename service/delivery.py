"""Sending due deliveries as Standard Webhooks, with retries, backoff and the outcome recorded."""

from __future__ import annotations

import json
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import and_, bindparam, or_, select, update
from standardwebhooks.webhooks import Webhook

from service import metrics
from service.alerts import ENV_TARGET, utcnow
from service.db import alerts, deliveries, webhooks
from service.ssrf import BlockedAddress

log = logging.getLogger(__name__)

RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=6)
# Long enough for one send at the 15 s timeout; a crashed sender's claim then lapses and another takes over.
CLAIM_FOR = timedelta(seconds=60)
BATCH = 200
# Receivers answer slowly compared with our bookkeeping; a few sends in flight keep one slow receiver from
# holding up the rest.
SENDERS = 8
RETRYABLE = {408, 425, 429}


def backoff(attempts: int) -> timedelta:
    """5 s, 20 s, 80 s, ... capped at 6 h, each with +-20% jitter so that retries of many alerts spread out."""
    base = min(FIRST_RETRY * (4 ** (attempts - 1)), MAX_BACKOFF)
    return base * random.uniform(0.8, 1.2)


def _claim(runtime, now: datetime) -> list[int]:
    """Marks due deliveries as taken by this process; several deliverers never send the same one at once."""
    due = and_(
        deliveries.c.status == "pending",
        deliveries.c.next_attempt_at <= now,
        or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
    )
    with runtime.db.write() as conn:
        ids = list(conn.scalars(select(deliveries.c.id).where(due).order_by(deliveries.c.id).limit(BATCH)))
        if not ids:
            return []
        claimed = conn.scalars(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), due)
            .values(claimed_until=now + CLAIM_FOR)
            .returning(deliveries.c.id)
        )
        return sorted(claimed)


def _secret_for(runtime, conn, target: str) -> str | None:
    if target == ENV_TARGET:
        secret = runtime.settings.alert_webhook_secret
        return secret.get_secret_value() if secret else None
    return conn.scalar(select(webhooks.c.secret).where(webhooks.c.id == target))


def _send(runtime, delivery, body: str, secret: str | None) -> tuple[int | None, str | None]:
    """One attempt. Returns (HTTP status, error text); the error never includes the secret or the body."""
    sent_at = datetime.now(UTC)
    if delivery.format == "slack":
        payload = json.dumps({"text": json.loads(body)["data"].get("message", "")}).encode()
    else:
        payload = body.encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "breakeven-webhooks/1",
        "webhook-id": delivery.alert_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
    }
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(delivery.alert_id, sent_at, payload.decode())
    try:
        response = runtime.session.post(
            delivery.url,
            data=payload,
            headers=headers,
            timeout=runtime.settings.webhook_timeout,
            allow_redirects=False,
        )
        response.close()
        return response.status_code, None
    except BlockedAddress:
        return None, "blocked: the receiver resolved to an internal address"
    except requests.exceptions.ConnectionError:
        return None, "connection failed"
    except requests.exceptions.Timeout:
        return None, f"timed out after {runtime.settings.webhook_timeout:g} s"
    except requests.exceptions.RequestException as exc:
        return None, f"request failed ({type(exc).__name__})"


def _outcome(code: int | None, error: str | None, attempts: int, created_at: datetime, now: datetime) -> dict:
    if code is not None and 200 <= code < 300:
        return {"status": "delivered", "delivered_at": now}
    if code == 410:
        return {"status": "cancelled", "last_error": "receiver answered 410 Gone: subscription disabled"}
    if error and error.startswith("blocked"):
        return {"status": "dead"}
    retryable = code is None or code >= 500 or code in RETRYABLE
    if code is not None and 300 <= code < 400:
        error = f"redirect (HTTP {code}) not followed"
    if not retryable:
        return {"status": "dead", "last_error": error or f"receiver answered HTTP {code}"}
    next_at = now + backoff(attempts)
    if next_at - created_at > RETRY_FOR:
        return {"status": "dead", "last_error": (error or f"HTTP {code}") + "; gave up after 24 h of retries"}
    return {"status": "pending", "next_attempt_at": next_at}


def _attempt(runtime, row, secret: str | None, now: datetime) -> dict:
    """Sends one delivery and returns the row's new state (every column, so a batch updates in one statement)."""
    code, error = _send(runtime, row, row.payload, secret)
    attempts = row.attempts + 1
    state = {
        "_id": row.id,
        "_target": row.target,
        "attempts": attempts,
        "last_status_code": code,
        "last_error": error,
        "claimed_until": None,
        "next_attempt_at": row.next_attempt_at,
        "delivered_at": None,
    }
    state.update(_outcome(code, error, attempts, row.created_at, now))
    log.info("delivery %s of %s to %s: %s", row.id, row.alert_id, row.target, code if code is not None else error)
    return state


def _record(runtime, states: list[dict]) -> None:
    """Writes a batch of outcomes in one transaction. A crash before this re-sends the batch once its claim
    lapses: delivery is at least once, and receivers drop repeats by webhook-id."""
    columns = (
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "claimed_until",
        "next_attempt_at",
        "delivered_at",
    )
    with runtime.db.write() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in columns}),
            [{key: state[key] for key in ("_id", *columns)} for state in states],
        )
        gone = sorted({s["_target"] for s in states if s["last_status_code"] == 410 and s["_target"] != ENV_TARGET})
        if gone:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.id.in_(gone))
                .values(enabled=False, disabled_reason="receiver answered 410 Gone")
            )


def deliver_due(runtime, now: datetime | None = None) -> dict[str, int]:
    """Sends every due delivery once. `now` (naive UTC) lets tests move time forward."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    while True:
        claimed = _claim(runtime, now)
        if not claimed:
            return counts
        with runtime.db.read() as conn:
            rows = conn.execute(
                select(deliveries, alerts.c.payload)
                .join(alerts, alerts.c.id == deliveries.c.alert_id)
                .where(deliveries.c.id.in_(claimed))
                .order_by(deliveries.c.id)
            ).all()
            secrets = {row.target: _secret_for(runtime, conn, row.target) for row in rows}
        with ThreadPoolExecutor(SENDERS) as pool:
            futures = [pool.submit(_attempt, runtime, row, secrets[row.target], now) for row in rows]
            states = [future.result() for future in futures]
        _record(runtime, states)
        metrics.observe_deliveries(state["status"] for state in states)
        for state in states:
            counts[state["status"]] = counts.get(state["status"], 0) + 1
        if len(claimed) < BATCH:
            return counts
