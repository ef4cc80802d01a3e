"""GET /v1/usage: grouping, zero days, filters, local days, and query validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import FULL, INGEST, make_settings


def log(
    client,
    run_id,
    day,
    model="llama-3.3-70b-versatile",
    workflow_id="wf-a",
    prompt=1000,
    completion=100,
    hour=12,
):
    run = {
        "id": run_id,
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "occurred_at": f"{day}T{hour:02d}:00:00Z",
        "workflow_id": workflow_id,
    }
    assert client.post("/v1/runs", json=run, headers=INGEST).status_code == 201


def test_by_day_lists_every_day_with_zeros(client):
    log(client, "a", "2026-11-02")
    log(client, "b", "2026-11-02", prompt=3000)
    log(client, "c", "2026-11-04")
    body = client.get("/v1/usage?start=2026-11-01&end=2026-11-05", headers=FULL).get_json()
    assert [r["day"] for r in body["rows"]] == [f"2026-11-0{d}" for d in range(1, 6)]
    assert [r["prompts"] for r in body["rows"]] == [0, 2, 0, 1, 0]
    assert body["rows"][1]["prompt_tokens"] == 4000
    assert body["totals"]["prompts"] == 3
    assert body["totals"]["cost_usd"] == pytest.approx((5000 * 0.59 + 300 * 0.79) / 1e6)


def test_by_model_and_by_workflow(client):
    log(client, "a", "2026-11-02")
    log(client, "b", "2026-11-02", model="openai/gpt-oss-20b", workflow_id=None)
    log(client, "c", "2026-11-03", model="openai/gpt-oss-20b", workflow_id="wf-b")
    by_model = client.get("/v1/usage?start=2026-11-01&end=2026-11-05&group_by=model", headers=FULL).get_json()
    assert {(r["model"], r["prompts"]) for r in by_model["rows"]} == {
        ("llama-3.3-70b-versatile", 1),
        ("openai/gpt-oss-20b", 2),
    }
    by_workflow = client.get("/v1/usage?start=2026-11-01&end=2026-11-05&group_by=workflow", headers=FULL).get_json()
    assert {(r["workflow_id"], r["prompts"]) for r in by_workflow["rows"]} == {
        ("wf-a", 1),
        ("wf-b", 1),
        (None, 1),
    }


def test_filters_by_model_and_workflow(client):
    log(client, "a", "2026-11-02")
    log(client, "b", "2026-11-02", model="openai/gpt-oss-20b", workflow_id="wf-b")
    body = client.get("/v1/usage?start=2026-11-02&end=2026-11-02&model=openai/gpt-oss-20b", headers=FULL).get_json()
    assert body["totals"]["prompts"] == 1
    body = client.get("/v1/usage?start=2026-11-02&end=2026-11-02&workflow_id=wf-a", headers=FULL).get_json()
    assert body["totals"]["prompts"] == 1


def test_default_range_is_the_last_30_days(client):
    body = client.get("/v1/usage", headers=FULL).get_json()
    assert len(body["rows"]) == 30
    assert body["end"] == datetime.now(UTC).date().isoformat()
    assert body["start"] == (datetime.now(UTC).date() - timedelta(days=29)).isoformat()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-13-01", "start"),
        ("end=tomorrow", "end"),
        ("start=2026-11-05&end=2026-11-01", "body"),
        ("group_by=week", "group_by"),
        ("colour=blue", "colour"),
        ("start=2020-01-01&end=2026-01-01", "start"),
    ],
)
def test_bad_queries_are_422_naming_the_parameter(client, query, field):
    response = client.get(f"/v1/usage?{query}", headers=FULL)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.get_json()["error"]["details"]]


def test_days_follow_the_configured_timezone(database_url, tmp_path):
    from service import create_app

    app = create_app(make_settings(database_url, tmp_path, timezone="America/New_York"))
    client = app.test_client()
    # 03:00 UTC on the 2nd is still the evening of the 1st in New York.
    log(client, "late", "2026-11-02", hour=3)
    body = client.get("/v1/usage?start=2026-11-01&end=2026-11-02", headers=FULL).get_json()
    assert [r["prompts"] for r in body["rows"]] == [1, 0]
    app.extensions["breakeven"].db.dispose()


def test_rollup_equals_raw_sums(client, app):
    from sqlalchemy import func, select

    from service.db import runs, usage_daily

    for i in range(40):
        day = (datetime(2026, 11, 1) + timedelta(days=i % 9)).date().isoformat()
        log(
            client,
            f"r{i}",
            day,
            model=["llama-3.3-70b-versatile", "x-unpriced"][i % 2],
            prompt=100 + i,
            completion=i,
            workflow_id=[None, "w1", "w2"][i % 3],
        )
    db = app.extensions["breakeven"].db
    with db.read() as conn:
        raw = conn.execute(
            select(
                func.count(),
                func.sum(runs.c.prompt_tokens),
                func.sum(runs.c.completion_tokens),
                func.sum(runs.c.cost_usd),
            )
        ).one()
        rolled = conn.execute(
            select(
                func.sum(usage_daily.c.prompts),
                func.sum(usage_daily.c.prompt_tokens),
                func.sum(usage_daily.c.completion_tokens),
                func.sum(usage_daily.c.cost_usd),
            )
        ).one()
    assert tuple(raw[:3]) == tuple(rolled[:3])
    assert rolled[3] == pytest.approx(raw[3])
