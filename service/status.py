"""Live break-even status of one model from the ledger's daily rollup (DESIGN.md section 1, "Live status")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from service import engine
from service.config import Settings
from service.db import usage_daily
from service.pricing import Catalogue, ModelPrice, Plan
from service.usage import workload_between

FORECAST_MIN_DAYS = 7
FORECAST_DAYS = 28
FREE_TIER_WARN = 0.8
# A plan's requests/s holds at the workload it was measured at; far from it, the capacity is a guess.
WORKLOAD_DRIFT_WARN = 0.25

NO_DATA, NEVER, OK, APPROACHING, REACHED = "no_data", "never", "ok", "approaching", "reached"


class StatusError(LookupError):
    """The status cannot be computed (no price or no plan for the model); the message says what to add."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Inputs:
    price: ModelPrice
    plan: Plan
    api: engine.ApiPrices
    selfhost: engine.SelfHostPlan
    gpu_source: str
    gpu_as_of: date


def resolve_inputs(
    catalogue: Catalogue, settings: Settings, provider: str, model: str, plan_name: str | None, day: date
) -> Inputs:
    price = catalogue.price_for(provider, model, day)
    if price is None:
        raise StatusError("model", f"no price for {provider}/{model} in the catalogue; add it to your pricing file")
    name = plan_name or settings.plan
    plan = catalogue.plan(name) if name else catalogue.default_plan_for(provider, model)
    if plan is None:
        if name:
            raise StatusError("plan", f"unknown plan {name!r}; `breakeven prices` lists the plans")
        raise StatusError(
            "plan",
            f"no self-host plan replaces {provider}/{model}; pass plan= or add a [[plans]] entry to your pricing file",
        )
    gpu_hourly, gpu_source, gpu_as_of = catalogue.plan_gpu_hourly(plan)
    api = engine.ApiPrices(
        input_per_m=price.input_per_m,
        output_per_m=price.output_per_m,
        cached_input_per_m=price.cached_input_per_m,
    )
    selfhost = engine.SelfHostPlan(
        gpu_hourly=gpu_hourly,
        gpus_per_replica=plan.gpus_per_replica,
        requests_per_second=plan.requests_per_second,
        max_utilization=plan.max_utilization if plan.max_utilization is not None else 0.8,
        ops_per_day=plan.ops_per_day or 0.0,
    )
    return Inputs(price, plan, api, selfhost, gpu_source, gpu_as_of)


def daily_counts(conn: Connection, provider: str, model: str, start: date, end: date) -> dict[date, dict]:
    stmt = (
        select(
            usage_daily.c.day,
            func.sum(usage_daily.c.prompts).label("prompts"),
            func.sum(usage_daily.c.prompt_tokens + usage_daily.c.completion_tokens).label("tokens"),
            func.sum(usage_daily.c.cost_usd).label("cost_usd"),
        )
        .where(
            usage_daily.c.provider == provider,
            usage_daily.c.model == model,
            usage_daily.c.day >= start,
            usage_daily.c.day <= end,
        )
        .group_by(usage_daily.c.day)
    )
    found = {}
    for row in conn.execute(stmt).mappings():
        day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"])[:10])
        found[day] = {
            "prompts": int(row["prompts"]),
            "tokens": int(row["tokens"]),
            "cost_usd": float(row["cost_usd"]),
        }
    return found


def first_day(conn: Connection, provider: str, model: str) -> date | None:
    value = conn.scalar(
        select(func.min(usage_daily.c.day)).where(usage_daily.c.provider == provider, usage_daily.c.model == model)
    )
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def forecast_crossing(counts: list[tuple[date, int]], threshold: float, today: date) -> date | None:
    """The day a least-squares line through the daily counts reaches the threshold; None when flat or falling."""
    if len(counts) < FORECAST_MIN_DAYS:
        return None
    xs = [(day - today).days for day, _ in counts]
    ys = [n for _, n in counts]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope <= 1e-9:
        return None
    intercept = mean_y - slope * mean_x
    crossing = (threshold - intercept) / slope  # in days from today
    return today + timedelta(days=max(0, math.ceil(crossing)))


def _gpu_label(plan: Plan) -> str:
    gpu = plan.gpu.split("/", 1)[-1] if plan.gpu else f"${plan.gpu_hourly:g}/h GPU"
    return f"{plan.gpus_per_replica}x {gpu}"


def _sentence(
    model: str,
    plan: Plan,
    level: str,
    daily: float | None,
    result: engine.Breakeven,
    forecast: date | None,
    replicas_note: str,
) -> str:
    where = f"{model} on {_gpu_label(plan)}{replicas_note}"
    if level == NEVER:
        capacity = result.capacity_prompts_per_day or 0
        return (
            f"Self-hosting {where} never pays off: a replica costs ${result.replica_cost_per_day:,.2f}/day "
            f"but serves at most {capacity:,.0f} prompts/day, worth only "
            f"${result.api_cost_per_prompt * capacity:,.2f} on the API."
        )
    threshold = result.breakeven_prompts_per_day_rounded or 0
    if daily is None:
        return (
            f"No complete day of usage yet for {model}; the break-even on {_gpu_label(plan)} is "
            f"{threshold:,} prompts/day."
        )
    ratio = daily / result.breakeven_prompts_per_day if result.breakeven_prompts_per_day else 0
    sentence = f"At {daily:,.0f} prompts/day you are at {ratio:.0%} of the {threshold:,}/day break-even for {where}"
    if level == REACHED:
        sentence += "; self-hosting is now cheaper than the API"
    if forecast is not None and level != REACHED:
        sentence += f"; at the current trend you reach it on {forecast.isoformat()}"
    return sentence + "."


def live_status(
    conn: Connection,
    catalogue: Catalogue,
    settings: Settings,
    provider: str,
    model: str,
    plan_name: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Everything `GET /v1/breakeven` reports for one model and plan."""
    now = now or datetime.now(settings.tz)
    today = now.astimezone(settings.tz).date()
    inputs = resolve_inputs(catalogue, settings, provider, model, plan_name, today)
    window = settings.window_days
    window_start = today - timedelta(days=window)
    history_start = today - timedelta(days=max(window, FORECAST_DAYS))
    counts = daily_counts(conn, provider, model, history_start, today)
    started = first_day(conn, provider, model)
    measured = workload_between(conn, provider, model, today - timedelta(days=window - 1), today)
    prompts_today = counts.get(today, {}).get("prompts", 0)

    complete_days = [window_start + timedelta(days=i) for i in range(window)]
    counted_days = [d for d in complete_days if started is not None and d >= started]
    daily = sum(counts.get(d, {}).get("prompts", 0) for d in counted_days) / len(counted_days) if counted_days else None

    warnings = []
    plan_workload = inputs.plan.workload
    if measured is not None:
        workload = engine.Workload(
            prompt_tokens=measured["prompt_tokens"],
            cached_tokens=min(measured["cached_tokens"], measured["prompt_tokens"]),
            completion_tokens=measured["completion_tokens"],
        )
        workload_source = f"measured over {measured['runs']:,} runs, {measured['start']} to {measured['end']}"
    elif plan_workload is not None:
        workload = engine.Workload(
            prompt_tokens=plan_workload.prompt_tokens, completion_tokens=plan_workload.completion_tokens
        )
        workload_source = f"plan {inputs.plan.name}'s stated workload (no runs in the last {window} days)"
    else:
        workload = engine.Workload(prompt_tokens=5000, completion_tokens=500)
        workload_source = "assumed 5,000 prompt / 500 completion tokens (no runs, no plan workload)"
    if plan_workload is not None and measured is not None and inputs.plan.requests_per_second is not None:
        planned = plan_workload.prompt_tokens + plan_workload.completion_tokens
        actual = workload.prompt_tokens + workload.completion_tokens
        if planned and abs(actual - planned) / planned > WORKLOAD_DRIFT_WARN:
            warnings.append(
                f"plan {inputs.plan.name}'s requests_per_second was stated at {planned:,.0f} tokens per "
                f"prompt; your prompts average {actual:,.0f}: measure your server "
                "(`breakeven measure`) for a capacity that fits"
            )

    result = engine.compute(inputs.api, workload, inputs.selfhost)
    series = [
        (d, counts.get(d, {}).get("prompts", 0))
        for d in (today - timedelta(days=FORECAST_DAYS - i) for i in range(FORECAST_DAYS))
        if started is not None and d >= started
    ]
    forecast = None
    if result.verdict == "never" or started is None:
        level = NO_DATA if started is None else NEVER
    else:
        threshold = result.breakeven_prompts_per_day or 0
        forecast = forecast_crossing(series, threshold, today)
        if daily is None:
            level = NO_DATA
        elif daily >= threshold:
            level = REACHED
        elif daily >= settings.warn_ratio * threshold or (
            forecast is not None and (forecast - today).days <= settings.forecast_horizon_days
        ):
            level = APPROACHING
        else:
            level = OK
    if level == NEVER:
        forecast = None

    replicas_note = f" ({result.replicas} replicas)" if result.replicas and result.replicas > 1 else ""
    verdict = _sentence(model, inputs.plan, level, daily, result, forecast, replicas_note)
    if level == NO_DATA and started is None:
        verdict = (
            f"No runs logged for {provider}/{model} yet; the break-even on {_gpu_label(inputs.plan)} would be "
            f"{result.breakeven_prompts_per_day_rounded or 0:,} prompts/day at the assumed workload."
            if result.verdict == "breaks_even"
            else verdict
        )

    free_tier = None
    if inputs.price.free_tier is not None:
        tier = inputs.price.free_tier
        tokens_today = counts.get(today, {}).get("tokens", 0)
        ratios = [
            n / limit
            for n, limit in ((prompts_today, tier.requests_per_day), (tokens_today, tier.tokens_per_day))
            if limit
        ]
        free_tier = {
            "requests_today": prompts_today,
            "requests_per_day": tier.requests_per_day,
            "tokens_today": tokens_today,
            "tokens_per_day": tier.tokens_per_day,
            "used_ratio": max(ratios) if ratios else 0.0,
            "approaching": bool(ratios) and max(ratios) >= FREE_TIER_WARN,
        }

    breakeven = result.breakeven_prompts_per_day
    return {
        "provider": provider,
        "model": model,
        "plan": inputs.plan.name,
        "level": level,
        "daily_prompts": round(daily, 2) if daily is not None else None,
        "prompts_today": prompts_today,
        "breakeven_prompts_per_day": round(breakeven, 2) if breakeven is not None else None,
        "breakeven_ratio": round(daily / breakeven, 4) if breakeven and daily is not None else None,
        "forecast_date": forecast.isoformat() if forecast else None,
        "verdict": verdict,
        "as_of": now.isoformat(timespec="seconds"),
        "timezone": settings.timezone,
        "window_days": window,
        "measured_workload": measured,
        "calculation": result.model_dump(),
        "inputs": {
            "api": {
                **inputs.api.model_dump(),
                "provider": provider,
                "model": model,
                "source": inputs.price.source,
                "as_of": inputs.price.as_of.isoformat(),
            },
            "workload": {**workload.model_dump(), "source": workload_source},
            "selfhost": {
                **inputs.selfhost.model_dump(),
                "plan": inputs.plan.name,
                "gpu": inputs.plan.gpu,
                "gpu_source": inputs.gpu_source,
                "gpu_as_of": inputs.gpu_as_of.isoformat(),
                "plan_source": inputs.plan.source,
                "plan_as_of": inputs.plan.as_of.isoformat(),
                "capacity_measured_at": plan_workload.model_dump() if plan_workload else None,
            },
        },
        "free_tier": free_tier,
        "history": [{"day": d.isoformat(), "prompts": n} for d, n in series],
        "warnings": warnings,
    }


def models_with_runs(conn: Connection) -> list[tuple[str, str]]:
    stmt = (
        select(usage_daily.c.provider, usage_daily.c.model)
        .distinct()
        .order_by(usage_daily.c.provider, usage_daily.c.model)
    )
    return [(row.provider, row.model) for row in conn.execute(stmt)]
