"""GET /v1/catalogue: the pricing catalogue in use and the alert thresholds, read-only (feeds the dashboard)."""

from __future__ import annotations

from flask import Blueprint

from service.app_context import current
from service.auth import FULL, require

bp = Blueprint("catalogue", __name__, url_prefix="/v1")


@bp.get("/catalogue")
@require(FULL)
def index():
    """API prices, GPU prices and self-host plans with their sources and dates, and the alert thresholds."""
    ctx = current()
    catalogue, settings = ctx.catalogue, ctx.settings
    models = []
    for price in catalogue.models:
        plan = catalogue.default_plan_for(price.provider, price.model)
        models.append(
            {
                "provider": price.provider,
                "model": price.model,
                "input_per_m": price.input_per_m,
                "output_per_m": price.output_per_m,
                "cached_input_per_m": price.cached_input_per_m,
                "retired": price.retired.isoformat() if price.retired else None,
                "as_of": price.as_of.isoformat(),
                "source": price.source,
                "plan": plan.name if plan else None,
            }
        )
    plans = []
    for plan in catalogue.plans:
        gpu_hourly, _, _ = catalogue.plan_gpu_hourly(plan)
        plans.append(
            {
                "name": plan.name,
                "replaces": plan.replaces,
                "gpu": plan.gpu,
                "gpu_hourly": gpu_hourly,
                "gpus_per_replica": plan.gpus_per_replica,
                "requests_per_second": plan.requests_per_second,
                "max_utilization": plan.max_utilization,
                "ops_per_day": plan.ops_per_day,
                "workload": plan.workload.model_dump() if plan.workload else None,
                "as_of": plan.as_of.isoformat(),
                "source": plan.source,
            }
        )
    return {
        "models": models,
        "gpus": [
            {
                "provider": gpu.provider,
                "gpu": gpu.gpu,
                "hourly": gpu.hourly,
                "vram_gb": gpu.vram_gb,
                "as_of": gpu.as_of.isoformat(),
                "source": gpu.source,
            }
            for gpu in catalogue.gpus
        ],
        "plans": plans,
        "thresholds": {
            "warn_ratio": settings.warn_ratio,
            "forecast_horizon_days": settings.forecast_horizon_days,
            "window_days": settings.window_days,
            "timezone": settings.timezone,
            "plan": settings.plan,
        },
    }
