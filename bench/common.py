"""Seeding and timing helpers shared by the benchmarks."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from service.db import Database, runs
from service.ledger import add_to_rollup
from service.migrate import upgrade

UTC_ZONE = ZoneInfo("UTC")


def fresh_database(folder: Path, name: str) -> Database:
    db = Database(f"sqlite:///{folder / name}")
    upgrade(db, UTC_ZONE)
    return db


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def synthetic_rows(count: int, models: list[str], days: int, workflows: int, seed: int = 7) -> list[dict]:
    """Runs spread over the last `days` days, the way a busy team's ledger looks."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    received = now
    rows = []
    for i in range(count):
        prompt = rng.randint(200, 8000)
        rows.append(
            {
                "id": f"seed-{i}",
                "provider": "groq",
                "model": models[i % len(models)],
                "prompt_tokens": prompt,
                "completion_tokens": rng.randint(10, 900),
                "cached_tokens": 0,
                "occurred_at": now - timedelta(seconds=rng.randint(0, (days - 1) * 86400)),
                "workflow_id": f"wf-{i % workflows}",
                "workflow_name": None,
                "execution_id": None,
                "node": None,
                "latency_ms": None,
                "status": "success",
                "metadata": None,
                "cost_usd": prompt * 0.59e-6,
                "content_hash": "0" * 64,
                "received_at": received,
            }
        )
    return rows


def seed(db: Database, rows: list[dict], chunk: int = 50_000) -> None:
    """Raw runs plus their rollup, as the ledger would have written them."""
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        with db.write() as conn:
            conn.execute(runs.insert(), part)
            add_to_rollup(db, conn, part, UTC_ZONE)
