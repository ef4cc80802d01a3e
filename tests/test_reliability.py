"""Against a real multi-worker server: concurrency, idempotency under races, and durability across SIGKILL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from service.db import Database, runs, usage_daily
from tests.conftest import FULL, INGEST, LiveServer, settings_env

pytestmark = pytest.mark.slow
_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def post_run(url: str, run: dict) -> int:
    return session().post(url + "/v1/runs", json=run, headers=INGEST, timeout=60).status_code


def raw_and_rollup(database_url: str) -> tuple[tuple, tuple]:
    db = Database(database_url)
    with db.read() as conn:
        raw = conn.execute(
            select(
                func.count(),
                func.sum(runs.c.prompt_tokens),
                func.sum(runs.c.completion_tokens),
                func.count(func.distinct(runs.c.id)),
            )
        ).one()
        rolled = conn.execute(
            select(
                func.sum(usage_daily.c.prompts),
                func.sum(usage_daily.c.prompt_tokens),
                func.sum(usage_daily.c.completion_tokens),
            )
        ).one()
    db.dispose()
    return tuple(raw), tuple(rolled)


@pytest.fixture
def server(database_url, tmp_path):
    live = LiveServer(settings_env(database_url, tmp_path), tmp_path, workers=4, threads=4).start()
    yield live
    live.stop()


def test_2000_concurrent_runs_are_each_stored_once(server, database_url):
    total = 2000
    batch = [
        {
            "id": f"conc-{i}",
            "model": ["llama-3.3-70b-versatile", "openai/gpt-oss-20b"][i % 2],
            "prompt_tokens": 100 + i,
            "completion_tokens": i % 50,
            "workflow_id": f"wf-{i % 3}",
        }
        for i in range(total)
    ]
    with ThreadPoolExecutor(max_workers=48) as pool:
        statuses = list(pool.map(lambda run: post_run(server.url, run), batch))
    assert statuses.count(201) == total, {s: statuses.count(s) for s in set(statuses)}
    raw, rolled = raw_and_rollup(database_url)
    expected_prompt = sum(r["prompt_tokens"] for r in batch)
    expected_completion = sum(r["completion_tokens"] for r in batch)
    assert raw == (total, expected_prompt, expected_completion, total)
    assert rolled == (total, expected_prompt, expected_completion)
    usage = requests.get(server.url + "/v1/usage?group_by=model", headers=FULL, timeout=10).json()
    assert usage["totals"]["prompts"] == total


def test_400_concurrent_posts_of_one_id_count_once(server, database_url):
    run = {"id": "same-id", "model": "llama-3.3-70b-versatile", "prompt_tokens": 777, "completion_tokens": 7}
    with ThreadPoolExecutor(max_workers=48) as pool:
        statuses = list(pool.map(lambda _: post_run(server.url, run), range(400)))
    assert statuses.count(201) == 1
    assert statuses.count(200) == 399
    raw, rolled = raw_and_rollup(database_url)
    assert raw == (1, 777, 7, 1)
    assert rolled == (1, 777, 7)


def test_an_acknowledged_run_survives_sigkill(database_url, tmp_path):
    env = settings_env(database_url, tmp_path)
    server = LiveServer(env, tmp_path, workers=2).start()
    acknowledged = []
    for i in range(50):
        run = {
            "id": f"durable-{i}",
            "model": "llama-3.3-70b-versatile",
            "prompt_tokens": 10,
            "completion_tokens": 1,
        }
        assert post_run(server.url, run) == 201
        acknowledged.append(run["id"])
    server.kill()
    raw, rolled = raw_and_rollup(database_url)
    assert raw[0] == 50 and rolled[0] == 50
    restarted = LiveServer(env, tmp_path, workers=1).start()
    try:
        usage = requests.get(restarted.url + "/v1/usage", headers=FULL, timeout=10).json()
        assert usage["totals"]["prompts"] == 50
    finally:
        restarted.stop()
