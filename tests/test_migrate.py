"""Schema upgrades keep every row; a timezone change recounts the rollup from the runs."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, inspect, select

from service.db import Database, runs, usage_daily
from service.ledger import Ledger
from service.migrate import current_revision, upgrade
from service.pricing import load_catalogue
from service.schemas import RunIn


def test_upgrade_creates_schema_and_is_repeatable_without_losing_rows(database_url):
    db = Database(database_url)
    upgrade(db, ZoneInfo("UTC"))
    assert current_revision(db) == "0001"
    assert {"runs", "usage_daily", "webhooks", "alerts", "deliveries"} <= set(inspect(db.engine).get_table_names())
    ledger = Ledger(db, load_catalogue(None), ZoneInfo("UTC"))
    ledger.ingest([RunIn(id=f"r{i}", model="m", prompt_tokens=10, completion_tokens=1) for i in range(5)])
    upgrade(db, ZoneInfo("UTC"))
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(runs)) == 5
    db.dispose()


def test_timezone_change_rebuilds_rollup_days(database_url):
    db = Database(database_url)
    upgrade(db, ZoneInfo("UTC"))
    ledger = Ledger(db, load_catalogue(None), ZoneInfo("UTC"))
    ledger.ingest(
        [
            RunIn.model_validate(
                {
                    "id": "late",
                    "model": "m",
                    "prompt_tokens": 10,
                    "completion_tokens": 1,
                    "occurred_at": "2026-11-02T03:00:00Z",
                }
            )
        ]
    )

    def days():
        with db.read() as conn:
            return [(str(d)[:10], n) for d, n in conn.execute(select(usage_daily.c.day, usage_daily.c.prompts))]

    assert days() == [("2026-11-02", 1)]
    upgrade(db, ZoneInfo("America/New_York"))
    assert days() == [("2026-11-01", 1)]
    db.dispose()
