"""Prometheus metrics: `GET /metrics` in the text exposition format.

Counters and histograms are recorded where the work happens (ingest, webhook delivery, every request). Under
gunicorn each worker is a separate process, so they run in prometheus-client's multiprocess mode: every
process writes its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape, answered by any one worker, adds
up the files of all of them (`breakeven web|serve` create that folder; see service/server.py). That mode
decides how values are stored when prometheus_client is first imported, so nothing the gunicorn master
imports may import this module before the folder is set.

The per-model gauges (daily prompts, break-even threshold, level) are not recorded at all: they are read from
the ledger at scrape time, so every worker answers the same and nothing goes stale when a worker restarts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from service.auth import FULL, require

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

if os.environ.get(MULTIPROC_ENV) and values.ValueClass is values.MutexValue:
    # Counting in memory here would make each worker report only its own share; fail at boot instead.
    raise RuntimeError(
        f"prometheus_client was imported before {MULTIPROC_ENV} was set; import service.metrics only after it"
    )

# `_created` timestamps exist only in single-process mode; without them a scrape looks the same in both modes.
disable_created_metrics()

# A registry of our own, not prometheus-client's global one: a scrape shows the same metric names whether
# the service runs under gunicorn (multiprocess files) or in one process (tests, the Flask dev server).
_REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Counter(
    "breakeven_runs_ingested",
    "Runs stored by POST /v1/runs (new ids only; duplicates and conflicts are not counted).",
    ["provider", "model"],
    registry=_REGISTRY,
)
TOKENS = Counter(
    "breakeven_tokens_ingested",
    "Tokens of the runs stored, by kind: prompt (all input, cached included), completion, cached.",
    ["provider", "model", "kind"],
    registry=_REGISTRY,
)
COST = Counter(
    "breakeven_api_cost_usd",
    "API cost of the runs stored, in USD at the catalogue price in force (unpriced runs add nothing).",
    ["provider", "model"],
    registry=_REGISTRY,
)
INGEST_ITEMS = Counter(
    "breakeven_ingest_items",
    "Runs received by POST /v1/runs, by outcome: created, duplicate, conflict.",
    ["outcome"],
    registry=_REGISTRY,
)
INGEST_SECONDS = Histogram(
    "breakeven_ingest_duration_seconds",
    "Time to validate and store one POST /v1/runs request that reached the ledger, by shape: single or batch.",
    ["shape"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=_REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "breakeven_alert_delivery_attempts",
    "Webhook delivery attempts by outcome: delivered, retrying (will be tried again), dead, cancelled (410).",
    ["outcome"],
    registry=_REGISTRY,
)
HTTP_REQUESTS = Counter(
    "breakeven_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=_REGISTRY,
)
HTTP_SECONDS = Histogram(
    "breakeven_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    registry=_REGISTRY,
)

# Outcome names as operators read them: a delivery left pending after an attempt is being retried.
_DELIVERY_OUTCOMES = {"delivered": "delivered", "pending": "retrying", "dead": "dead", "cancelled": "cancelled"}
UNMATCHED_ROUTE = "unmatched"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def observe_ingest(runs: Iterable, results: Iterable, seconds: float, shape: str) -> None:
    """Counts one ingest request: `runs` are the validated RunIn items, `results` the ledger's IngestResults."""
    INGEST_SECONDS.labels(shape).observe(seconds)
    for run, result in zip(runs, results, strict=True):
        INGEST_ITEMS.labels(result.status).inc()
        if result.status != "created":
            continue
        RUNS.labels(run.provider, run.model).inc()
        TOKENS.labels(run.provider, run.model, "prompt").inc(run.prompt_tokens)
        TOKENS.labels(run.provider, run.model, "completion").inc(run.completion_tokens)
        TOKENS.labels(run.provider, run.model, "cached").inc(run.cached_tokens)
        if result.cost_usd is not None:
            COST.labels(run.provider, run.model).inc(result.cost_usd)


def observe_deliveries(statuses: Iterable[str]) -> None:
    """Counts delivery attempts by the status each delivery was left in."""
    for status in statuses:
        DELIVERY_ATTEMPTS.labels(_DELIVERY_OUTCOMES.get(status, status)).inc()


class StatusCollector:
    """Per-model gauges computed from the ledger when scraped (the same figures GET /v1/breakeven reports)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        from service.status import StatusError, live_status, models_with_runs

        labels = ["provider", "model", "plan"]
        daily = GaugeMetricFamily(
            "breakeven_daily_prompts",
            "Mean runs per complete day over the last window_days days (the figure compared with the break-even).",
            labels=labels,
        )
        today = GaugeMetricFamily("breakeven_prompts_today", "Runs logged so far today.", labels=labels)
        threshold = GaugeMetricFamily(
            "breakeven_threshold_prompts_per_day",
            "Daily prompts at which self-hosting costs no more than the API (absent when it never does).",
            labels=labels,
        )
        level = GaugeMetricFamily(
            "breakeven_level",
            "1 for the model's current level (no_data, never, ok, approaching, reached), 0 for the others.",
            labels=[*labels, "level"],
        )
        ctx = self.ctx
        with ctx.db.read() as conn:
            for provider, model in models_with_runs(conn):
                try:
                    status = live_status(conn, ctx.catalogue, ctx.settings, provider, model)
                except StatusError:
                    continue  # no price or no plan: nothing to compare with; /v1/breakeven says why
                key = [provider, model, status["plan"]]
                if status["daily_prompts"] is not None:
                    daily.add_metric(key, status["daily_prompts"])
                today.add_metric(key, status["prompts_today"])
                if status["breakeven_prompts_per_day"] is not None:
                    threshold.add_metric(key, status["breakeven_prompts_per_day"])
                for name in ("no_data", "never", "ok", "approaching", "reached"):
                    level.add_metric([*key, name], 1.0 if status["level"] == name else 0.0)
        yield from (daily, today, threshold, level)


class _Exposition:
    """Everything one scrape shows: the recorded metrics (of every worker, in multiprocess mode) and the
    ledger gauges."""

    def __init__(self, *sources):
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def exposition(ctx) -> bytes:
    path = multiprocess_dir()
    if path:
        recorded = MultiProcessCollector(None, path=path)
    else:
        recorded = _REGISTRY
    return generate_latest(_Exposition(recorded, StatusCollector(ctx)))


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@require(FULL)
def scrape():
    """Prometheus text format (needs a full key, like all usage data).

    Prometheus sends the key with `authorization: {credentials_file: ...}` in its scrape config."""
    from service.app_context import current

    return Response(exposition(current()), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def init_app(app: Flask) -> None:
    """Times every request and registers /metrics."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            # The route template, not the path: ids in paths would make a new series per request.
            route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
            method = request.method if request.method in _METHODS else "OTHER"
            HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
