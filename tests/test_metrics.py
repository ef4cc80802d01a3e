"""GET /metrics: counts that add up across gunicorn workers, and gauges that match the live status."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FULL, INGEST, LiveServer, settings_env
from tests.receiver import start_receiver

MODEL = "llama-3.3-70b-versatile"
PROMPT, COMPLETION, CACHED = 5000, 500, 1000
# llama-3.3-70b at $0.59/M input (cached input at the same price) and $0.79/M output.
RUN_COST = (PROMPT * 0.59 + COMPLETION * 0.79) / 1e6
BACKFILL = {days_ago: 10 + days_ago for days_ago in range(1, 8)}  # 11..17 runs a day: a mean of 14


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def run(run_id: str, **extra) -> dict:
    return {
        "id": run_id,
        "model": MODEL,
        "prompt_tokens": PROMPT,
        "completion_tokens": COMPLETION,
        "cached_tokens": CACHED,
        **extra,
    }


# ---- in one process -------------------------------------------------------------------------------------


def test_metrics_need_a_full_key(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=INGEST).status_code == 403
    response = client.get("/metrics", headers=FULL)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_requests_are_counted_by_route_template_not_path(client):
    before = parse(client.get("/metrics", headers=FULL).get_data(as_text=True))
    for hook in ("wh_a", "wh_b", "wh_c"):
        assert client.delete(f"/v1/webhooks/{hook}", headers=FULL).status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = parse(client.get("/metrics", headers=FULL).get_data(as_text=True))

    def delta(**labels) -> float:
        name = "breakeven_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(method="DELETE", route="/v1/webhooks/<webhook_id>", status="404") == 3
    assert delta(method="GET", route="unmatched", status="404") == 1
    assert not any("wh_a" in str(labels) for _, labels in after)


def test_importing_metrics_before_the_multiprocess_folder_is_set_fails_loudly(tmp_path):
    """The mistake that would make each worker report only its own share must stop the worker at boot."""
    code = (
        "import os, prometheus_client\n"
        f"os.environ['PROMETHEUS_MULTIPROC_DIR'] = {str(tmp_path)!r}\n"
        "import service.metrics\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "imported before PROMETHEUS_MULTIPROC_DIR was set" in result.stderr


# ---- under gunicorn with two workers ----------------------------------------------------------------------


def worker_pids(server: LiveServer, path: str) -> set[int]:
    found = re.findall(rf"path={re.escape(path)} status=\d+ duration_ms=\S+ pid=(\d+)", server.log_path.read_text())
    return {int(pid) for pid in found}


def scrape(server: LiveServer) -> dict:
    # A new connection each time, so that successive scrapes are answered by either worker.
    response = requests.get(server.url + "/metrics", headers={**FULL, "Connection": "close"}, timeout=10)
    assert response.status_code == 200
    return parse(response.text)


RECORDED = (
    "breakeven_runs_ingested_total",
    "breakeven_tokens_ingested_total",
    "breakeven_api_cost_usd_total",
    "breakeven_ingest_items_total",
    "breakeven_ingest_duration_seconds_count",
    "breakeven_alert_delivery_attempts_total",
)


def recorded(samples: dict) -> dict:
    return {key: v for key, v in samples.items() if key[0] in RECORDED}


@pytest.mark.slow
def test_counts_add_up_across_two_workers_and_survive_a_worker_restart(tmp_path):
    env = settings_env(f"sqlite:///{tmp_path / 'breakeven.sqlite'}", tmp_path)
    server = LiveServer(env, tmp_path, workers=2, threads=4).start()
    receiver = start_receiver()
    try:
        sent = {"single_created": 0, "batch_created": 0, "batches": 0, "duplicates": 0, "conflicts": 0}

        def post(body: dict) -> int:
            response = requests.post(
                server.url + "/v1/runs", json=body, headers={**INGEST, "Connection": "close"}, timeout=20
            )
            return response.status_code

        noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        batches = [
            {
                "runs": [
                    run(f"day{days}-{i}", occurred_at=(noon - timedelta(days=days)).isoformat()) for i in range(count)
                ]
            }
            for days, count in BACKFILL.items()
        ]
        singles = [run(f"single-{i}") for i in range(40)]
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(post, batches)) == {200}
            assert set(pool.map(post, singles)) == {201}
        sent["batches"] = len(batches)
        sent["batch_created"] = sum(BACKFILL.values())
        sent["single_created"] = len(singles)
        # gunicorn leaves it to the kernel which worker accepts a connection: go on until both have ingested.
        extra = 0
        while len(worker_pids(server, "/v1/runs")) < 2 and extra < 400:
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(post, [run(f"extra-{extra + i}") for i in range(20)])) == {201}
            extra += 20
        sent["single_created"] += extra
        assert len(worker_pids(server, "/v1/runs")) == 2, "all traffic went to one worker"
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(post, singles[:10])) == {200}
            assert set(pool.map(post, [{**r, "completion_tokens": 1} for r in singles[10:15]])) == {409}
        sent["duplicates"], sent["conflicts"] = 10, 5

        # One delivery per outcome, through the synchronous test endpoint.
        receiver.script.extend([200, 500, 410, 400])
        outcomes = []
        for _ in range(4):
            hook = requests.post(server.url + "/v1/webhooks", json={"url": receiver.url}, headers=FULL, timeout=10)
            tested = requests.post(f"{server.url}/v1/webhooks/{hook.json()['id']}/test", headers=FULL, timeout=30)
            outcomes.append(tested.json()["delivery"]["status"])
        assert outcomes == ["delivered", "pending", "cancelled", "dead"]

        created = sent["single_created"] + sent["batch_created"]
        scrapes = [scrape(server) for _ in range(6)]
        for samples in scrapes:
            assert value(samples, "breakeven_runs_ingested_total", provider="groq", model=MODEL) == created
            for kind, per_run in (("prompt", PROMPT), ("completion", COMPLETION), ("cached", CACHED)):
                tokens = value(samples, "breakeven_tokens_ingested_total", provider="groq", model=MODEL, kind=kind)
                assert tokens == created * per_run
            cost = value(samples, "breakeven_api_cost_usd_total", provider="groq", model=MODEL)
            assert cost == pytest.approx(created * RUN_COST, rel=1e-9)
            items = {
                o: value(samples, "breakeven_ingest_items_total", outcome=o)
                for o in ("created", "duplicate", "conflict")
            }
            assert items == {"created": created, "duplicate": sent["duplicates"], "conflict": sent["conflicts"]}
            singles_posted = sent["single_created"] + sent["duplicates"] + sent["conflicts"]
            assert value(samples, "breakeven_ingest_duration_seconds_count", shape="single") == singles_posted
            assert value(samples, "breakeven_ingest_duration_seconds_count", shape="batch") == sent["batches"]
            assert (
                value(samples, "breakeven_ingest_duration_seconds_bucket", shape="batch", le="+Inf") == sent["batches"]
            )
            deliveries = {
                o: value(samples, "breakeven_alert_delivery_attempts_total", outcome=o)
                for o in ("delivered", "retrying", "cancelled", "dead")
            }
            assert deliveries == {"delivered": 1, "retrying": 1, "cancelled": 1, "dead": 1}
            http = {
                status: value(samples, "breakeven_http_requests_total", method="POST", route="/v1/runs", status=status)
                for status in ("200", "201", "409")
            }
            assert http == {
                "200": sent["batches"] + sent["duplicates"],
                "201": sent["single_created"],
                "409": sent["conflicts"],
            }

        # A worker that dies takes nothing with it: its counts stay in the shared folder.
        victim = min(worker_pids(server, "/v1/runs"))
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(victim, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        after = [recorded(scrape(server)) for _ in range(4)]
        assert all(samples == recorded(scrapes[0]) for samples in after)

        # The per-model gauges are the live status, read from the ledger when scraped.
        status = requests.get(server.url + "/v1/breakeven", params={"model": MODEL}, headers=FULL, timeout=10).json()
        if datetime.now(UTC).date() == noon.date():  # the backfill's days shift when midnight passes mid-test
            assert status["daily_prompts"] == 14
            assert status["prompts_today"] == sent["single_created"]
        labels = {"provider": "groq", "model": MODEL, "plan": status["plan"]}
        for samples in (scrape(server), scrape(server)):
            assert value(samples, "breakeven_daily_prompts", **labels) == status["daily_prompts"]
            assert value(samples, "breakeven_prompts_today", **labels) == status["prompts_today"]
            assert (
                value(samples, "breakeven_threshold_prompts_per_day", **labels) == status["breakeven_prompts_per_day"]
            )
            levels = {
                level: value(samples, "breakeven_level", **labels, level=level)
                for level in ("no_data", "never", "ok", "approaching", "reached")
            }
            assert levels == {level: float(level == status["level"]) for level in levels}
    finally:
        receiver.close()
        server.stop()
