"""Usage and status queries over 1,000,000 stored runs: rollup answers against raw GROUP BY scans.

Goals: GET /v1/usage?group_by=day over 90 days p50 <= 20 ms and >= 50x faster than a GROUP BY over the raw
runs; live status <= 100 ms per model for 50 models.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.common import fresh_database, p50_ms, seed, synthetic_rows, timed
from service import create_app
from service.config import Settings
from service.pricing import load_catalogue
from service.status import live_status

RUNS = 1_000_000
MODELS = [f"bench-model-{i:02d}" for i in range(49)] + ["llama-3.3-70b-versatile"]
DAYS = 90


def run() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-queries-"))
    db = fresh_database(folder, "queries.sqlite")
    print(f"seeding {RUNS:,} runs over {DAYS} days, {len(MODELS)} models ...", flush=True)
    seed(db, synthetic_rows(RUNS, MODELS, DAYS, workflows=10))
    db.dispose()

    settings = Settings(
        database_url=f"sqlite:///{folder / 'queries.sqlite'}", api_keys="bench", pricing_file=folder / "none.toml"
    )
    app = create_app(settings)
    client = app.test_client()
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=DAYS - 1)).isoformat()
    url = f"/v1/usage?group_by=day&start={start}&end={today.isoformat()}"
    headers = {"Authorization": "Bearer bench"}
    response = client.get(url, headers=headers).get_json()
    assert response["totals"]["prompts"] == RUNS, response["totals"]
    api_samples = timed(lambda: client.get(url, headers=headers), 50)

    raw_sql = text(
        "SELECT date(occurred_at) AS day, count(*), sum(prompt_tokens), sum(completion_tokens), "
        "sum(cached_tokens), sum(cost_usd) FROM runs WHERE occurred_at >= :start GROUP BY day ORDER BY day"
    )
    engine = app.extensions["breakeven"].db.engine
    with engine.connect() as conn:
        raw_rows = conn.execute(raw_sql, {"start": start}).all()
        assert sum(r[1] for r in raw_rows) == RUNS
        raw_samples = timed(lambda: conn.execute(raw_sql, {"start": start}).all(), 5)

    api_p50, raw_p50 = p50_ms(api_samples), p50_ms(raw_samples)
    print(f"GET /v1/usage?group_by=day, 90 days, {RUNS:,} runs: p50 {api_p50:.1f} ms (goal <= 20 ms)")
    print(f"raw GROUP BY over runs, same answer:        p50 {raw_p50:.1f} ms")
    print(f"ratio raw / rollup: {raw_p50 / api_p50:.0f}x (goal >= 50x)")

    catalogue = load_catalogue(None)
    ctx = app.extensions["breakeven"]
    plan_settings = settings.model_copy(update={"plan": "llama-3.3-70b-on-a40"})
    catalogue_with_models = catalogue
    for model in MODELS:
        if catalogue_with_models.price_for("groq", model) is None:
            catalogue_with_models.models.append(
                catalogue.price_for("groq", "llama-3.3-70b-versatile").model_copy(update={"model": model})
            )
    catalogue_with_models.__dict__.pop("_prices_by_model", None)

    def all_statuses() -> None:
        with ctx.db.read() as conn:
            for model in MODELS:
                live_status(conn, catalogue_with_models, plan_settings, "groq", model)

    samples = timed(all_statuses, 5)
    per_model = p50_ms(samples) / len(MODELS)
    print(f"live status for {len(MODELS)} models over {RUNS:,} runs: {per_model:.1f} ms per model (goal <= 100 ms)")
    ctx.db.dispose()
