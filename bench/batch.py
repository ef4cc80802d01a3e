"""Batch ingest (1,000 runs per request) through the HTTP API, next to a raw SQLAlchemy executemany into the
same tables in the same run. Goals: >= 50,000 runs/s and >= 30% of the raw insert rate."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import fresh_database, synthetic_rows
from service.db import runs
from tests.conftest import INGEST_KEY, LiveServer, settings_env

BATCHES = 60
PER_BATCH = 1000
CLIENTS = 2


def run() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    bodies = [
        {
            "runs": [
                {
                    "id": f"b{b}-{i}",
                    "model": "llama-3.3-70b-versatile",
                    "prompt_tokens": 1000 + i,
                    "completion_tokens": i % 300,
                    "workflow_id": f"wf-{i % 5}",
                }
                for i in range(PER_BATCH)
            ]
        }
        for b in range(BATCHES)
    ]
    server = LiveServer(settings_env(f"sqlite:///{folder / 'batch.sqlite'}", folder), folder, command="serve").start()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {INGEST_KEY}"}
    try:
        session.post(
            server.url + "/v1/runs",
            json={"runs": [{**bodies[0]["runs"][0], "id": "warm"}]},
            headers=headers,
            timeout=30,
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(
                pool.map(
                    lambda body: requests.post(server.url + "/v1/runs", json=body, headers=headers, timeout=60), bodies
                )
            )
        api_seconds = time.perf_counter() - started
    finally:
        server.stop()
    assert all(r.status_code == 200 and r.json()["created"] == PER_BATCH for r in results)
    api_rate = BATCHES * PER_BATCH / api_seconds

    db = fresh_database(folder, "raw.sqlite")
    rows = synthetic_rows(BATCHES * PER_BATCH, ["llama-3.3-70b-versatile"], 30, workflows=5)
    started = time.perf_counter()
    for start in range(0, len(rows), PER_BATCH):
        with db.write() as conn:
            conn.execute(runs.insert(), rows[start : start + PER_BATCH])
    raw_seconds = time.perf_counter() - started
    db.dispose()
    raw_rate = len(rows) / raw_seconds
    print(f"HTTP batches of {PER_BATCH:,}: {api_rate:10,.0f} runs/s (goal >= 50,000)")
    print(f"raw executemany, same tables, same batch size: {raw_rate:10,.0f} runs/s")
    print(f"HTTP / raw: {api_rate / raw_rate:.0%} (goal >= 30%)")
