"""Alert delivery throughput to a local receiver (goal >= 200 deliveries/s)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench.common import fresh_database
from service.alerts import new_id
from service.checks import CheckRuntime
from service.config import Settings
from service.db import alerts, deliveries, webhooks
from service.delivery import deliver_due
from service.pricing import load_catalogue

ALERTS = 1000


def run() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    db = fresh_database(folder, "delivery.sqlite")
    receiver_process = subprocess.Popen([sys.executable, "-m", "tests.receiver"], stdout=subprocess.PIPE, text=True)
    receiver_url = receiver_process.stdout.readline().strip()
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.write() as conn:
        conn.execute(
            webhooks.insert().values(
                id="wh_bench",
                url=receiver_url,
                events="[]",
                format="standard",
                secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                enabled=True,
                created_at=now,
            )
        )
        alert_rows = [
            {
                "id": new_id("msg"),
                "type": "breakeven.approaching",
                "provider": "groq",
                "model": f"m{i}",
                "plan": "p",
                "day": date.today(),
                "payload": '{"type":"breakeven.approaching","data":{}}',
                "created_at": now,
            }
            for i in range(ALERTS)
        ]
        conn.execute(alerts.insert(), alert_rows)
        conn.execute(
            deliveries.insert(),
            [
                {
                    "alert_id": a["id"],
                    "target": "wh_bench",
                    "url": receiver_url,
                    "format": "standard",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for a in alert_rows
            ],
        )
    settings = Settings(database_url=f"sqlite:///{folder / 'delivery.sqlite'}", webhook_allowed_hosts="127.0.0.1")
    runtime = CheckRuntime(
        settings=settings,
        db=db,
        catalogue=load_catalogue(None),
        session=CheckRuntime.from_settings(settings, db=db).session,
    )
    started = time.perf_counter()
    outcome = deliver_due(runtime)
    seconds = time.perf_counter() - started
    receiver_process.terminate()
    receiver_process.wait(10)
    assert outcome == {"delivered": ALERTS}, outcome
    print(
        f"{ALERTS:,} signed deliveries to a local receiver in {seconds:.2f} s: {ALERTS / seconds:,.0f}/s "
        "(goal >= 200/s)"
    )
