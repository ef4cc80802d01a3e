"""One evaluation pass: every model with runs gets its live status, and due alerts are raised."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import requests

from service import alerts
from service.config import Settings
from service.db import Database
from service.migrate import upgrade
from service.pricing import Catalogue, load_catalogue
from service.ssrf import guarded_session
from service.status import APPROACHING, REACHED, StatusError, live_status, models_with_runs

log = logging.getLogger(__name__)


@dataclass
class CheckRuntime:
    """What the scheduler, `breakeven check` and the web test endpoint need to evaluate and deliver."""

    settings: Settings
    db: Database
    catalogue: Catalogue
    session: requests.Session = field(repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database | None = None, catalogue: Catalogue | None = None
    ) -> CheckRuntime:
        if db is None:
            db = Database(settings.database_url)
            upgrade(db, settings.tz)
        return cls(
            settings=settings,
            db=db,
            catalogue=catalogue or load_catalogue(settings.pricing_file),
            session=guarded_session(settings.webhook_allowed_hosts),
        )


def _message(status: dict, event_type: str) -> str:
    if event_type == alerts.FREETIER:
        tier = status["free_tier"]
        return (
            f"{status['model']} has used {tier['used_ratio']:.0%} of today's free-tier limit "
            f"({tier['requests_today']:,} requests, {tier['tokens_today']:,} tokens)."
        )
    if event_type == alerts.RECEDED:
        return f"Back below the approaching band. {status['verdict']}"
    return status["verdict"]


def _payload(status: dict, event_type: str) -> dict:
    data = {
        key: status[key]
        for key in (
            "provider",
            "model",
            "plan",
            "level",
            "daily_prompts",
            "prompts_today",
            "breakeven_prompts_per_day",
            "breakeven_ratio",
            "forecast_date",
            "verdict",
            "as_of",
            "timezone",
            "free_tier",
        )
    }
    data["message"] = _message(status, event_type)
    return data


def due_events(status: dict, previous: str | None) -> list[str]:
    events = []
    if status["level"] == REACHED:
        events.append(alerts.REACHED)
    elif status["level"] == APPROACHING:
        events.append(alerts.APPROACHING)
    elif status["level"] == "ok" and previous in (alerts.APPROACHING, alerts.REACHED):
        events.append(alerts.RECEDED)
    if status["free_tier"] and status["free_tier"]["approaching"]:
        events.append(alerts.FREETIER)
    return events


def run_check(runtime: CheckRuntime, now: datetime | None = None, deliver: bool = True) -> list[dict]:
    """Evaluates every model with runs, raises due alerts (once per type, model, plan and day), then
    delivers what is due. Returns each model's status with the alerts raised for it."""
    settings = runtime.settings
    now = now or datetime.now(settings.tz)
    today = now.astimezone(settings.tz).date()
    report = []
    with runtime.db.read() as conn:
        models = models_with_runs(conn)
    for provider, model in models:
        try:
            with runtime.db.read() as conn:
                status = live_status(conn, runtime.catalogue, settings, provider, model, now=now)
                previous = alerts.last_breakeven_alert(conn, provider, model, status["plan"])
        except StatusError as exc:
            report.append(
                {
                    "provider": provider,
                    "model": model,
                    "level": "unchecked",
                    "verdict": str(exc),
                    "alerts": [],
                }
            )
            continue
        raised = []
        for event_type in due_events(status, previous):
            plan = "" if event_type == alerts.FREETIER else status["plan"]
            alert_id = alerts.raise_alert(
                runtime.db, settings, event_type, provider, model, plan, today, _payload(status, event_type)
            )
            if alert_id:
                log.info("raised %s for %s/%s (%s)", event_type, provider, model, alert_id)
                raised.append({"type": event_type, "id": alert_id})
        report.append({**status, "alerts": raised})
    if deliver:
        from service.delivery import deliver_due

        deliver_due(runtime)
    return report
