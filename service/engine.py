"""The break-even decision (DESIGN.md section 1) as pure functions.

No Flask, no database, no I/O: every figure the service reports about self-hosting comes from here, so the
HTTP API, the CLI, the scheduler and the tests all share one definition. The input models double as request
body schemas, which is why they forbid unknown fields and name the offending field in every error.

Floating point: the inputs are decimal money and token figures that binary floats cannot hold exactly, so a
result that is mathematically an integer (say 2.40 / 0.0003 = 8000 prompts a day) may come out as
8000.000000000002, and a plain ``ceil`` would then report 8001. Every place where an integer is taken from a
ratio, or where two costs are compared, allows a relative slack of ``REL_EPS``. A few float operations carry
errors near 1e-16; 1e-9 sits far above that and far below any difference that matters in money (a billionth
of the amount).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

REL_EPS = 1e-9
SECONDS_PER_DAY = 86_400
HOURS_PER_DAY = 24
DAYS_PER_MONTH = 30
TOKENS_PER_PRICE_UNIT = 1_000_000

REASON_API_COST_IS_ZERO = "api_cost_is_zero"
REASON_REPLICA_COST_EXCEEDS = "replica_cost_exceeds_api_cost_at_capacity"
REASON_OUT_OF_RANGE = "breakeven_volume_out_of_range"

Verdict = Literal["breaks_even", "never"]


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1; a boolean where a price or count belongs is a client bug.
    if isinstance(value, bool):
        raise ValueError("Input should be a number, not a boolean")
    return value


# The upper bounds are far beyond any real price, GPU or context window. They exist so that products of
# valid inputs cannot overflow to infinity, which JSON cannot carry.
_Price = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1e6)]
_Tokens = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1e9)]

_STRICT_INPUT = ConfigDict(extra="forbid", allow_inf_nan=False)


class ApiPrices(BaseModel):
    """Per-million-token API prices in USD."""

    model_config = _STRICT_INPUT

    input_per_m: _Price
    output_per_m: _Price
    cached_input_per_m: _Price | None = Field(
        default=None, description="Price of cached input tokens; defaults to input_per_m."
    )
    batch_discount: Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _default_cached_price(self) -> ApiPrices:
        # Resolved here rather than at use so that echoing the inputs shows the price actually applied.
        if self.cached_input_per_m is None:
            self.cached_input_per_m = self.input_per_m
        return self


class Workload(BaseModel):
    """Mean tokens per prompt (one run) and how bursty the traffic is."""

    model_config = _STRICT_INPUT

    prompt_tokens: _Tokens = Field(description="All input tokens per prompt, cached ones included.")
    cached_tokens: _Tokens = 0.0
    completion_tokens: _Tokens
    peak_to_average: Annotated[float, BeforeValidator(_not_bool), Field(ge=1, le=1e6)] = 1.0

    @field_validator("cached_tokens")
    @classmethod
    def _cached_within_prompt(cls, value: float, info: ValidationInfo) -> float:
        prompt = info.data.get("prompt_tokens")
        # When prompt_tokens itself failed validation it is absent here and already reported.
        if prompt is not None and value > prompt:
            raise ValueError(f"cached_tokens ({value:g}) must not exceed prompt_tokens ({prompt:g})")
        return value


class SelfHostPlan(BaseModel):
    """Rented GPUs serving the same model, always on."""

    model_config = _STRICT_INPUT

    gpu_hourly: Annotated[float, BeforeValidator(_not_bool), Field(gt=0, le=1e6)]
    gpus_per_replica: Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=1_000_000)] = 1
    requests_per_second: Annotated[float, BeforeValidator(_not_bool), Field(gt=0, le=1e9)] | None = Field(
        default=None, description="One replica's sustained rate at this workload; unset means unchecked."
    )
    max_utilization: Annotated[float, BeforeValidator(_not_bool), Field(gt=0, le=1)] = 0.8
    ops_per_day: Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1e12)] = 0.0


class Breakeven(BaseModel):
    """Outputs of section 1. Figures that do not exist under a ``never`` verdict are None."""

    model_config = ConfigDict(frozen=True)

    api_cost_per_prompt: float
    replica_cost_per_day: float
    capacity_prompts_per_day: float | None
    capacity_checked: bool
    replicas: int | None
    breakeven_prompts_per_day: float | None
    breakeven_prompts_per_day_rounded: int | None
    selfhost_cost_per_day: float | None
    selfhost_cost_per_month: float | None
    api_cost_per_month_at_breakeven: float | None
    verdict: Verdict
    reason: str | None


def _nearest(x: float) -> int:
    """Half-up rounding with the same slack as _ceil: the whole number of prompts a person would quote."""
    return math.floor(x + 0.5 + abs(x) * REL_EPS)


def _ceil(x: float) -> int:
    """Ceiling that forgives a relative excess of REL_EPS, so float noise above an integer stays on it."""
    return math.ceil(x - abs(x) * REL_EPS)


def token_cost(
    prompt_tokens: float,
    cached_tokens: float,
    completion_tokens: float,
    input_per_m: float,
    cached_input_per_m: float,
    output_per_m: float,
) -> float:
    """USD for one call at list prices: uncached input, cached input and output each at their own rate.
    Plain floats, because the ledger prices every ingested run with it and cannot afford a model per run."""
    uncached = prompt_tokens - cached_tokens
    total = uncached * input_per_m + cached_tokens * cached_input_per_m + completion_tokens * output_per_m
    return total / TOKENS_PER_PRICE_UNIT


def api_cost_per_prompt(api: ApiPrices, workload: Workload) -> float:
    cached_price = api.input_per_m if api.cached_input_per_m is None else api.cached_input_per_m
    cost = token_cost(
        workload.prompt_tokens,
        workload.cached_tokens,
        workload.completion_tokens,
        api.input_per_m,
        cached_price,
        api.output_per_m,
    )
    return cost * (1 - api.batch_discount)


def api_cost_per_day(api: ApiPrices, workload: Workload, prompts_per_day: float) -> float:
    return api_cost_per_prompt(api, workload) * _check_volume(prompts_per_day)


def replica_cost_per_day(selfhost: SelfHostPlan) -> float:
    return selfhost.gpus_per_replica * selfhost.gpu_hourly * HOURS_PER_DAY


def capacity_prompts_per_day(selfhost: SelfHostPlan, workload: Workload) -> float | None:
    """Average prompts per day one replica serves while keeping headroom for peaks; None when unknown."""
    if selfhost.requests_per_second is None:
        return None
    return selfhost.requests_per_second * SECONDS_PER_DAY * selfhost.max_utilization / workload.peak_to_average


def replicas_for_volume(capacity: float | None, prompts_per_day: float) -> int:
    """Replicas needed for a daily volume; at least one, because a deployment is up even when idle."""
    volume = _check_volume(prompts_per_day)
    if capacity is None:
        return 1
    if not (capacity > 0 and math.isfinite(capacity)):
        raise ValueError(f"capacity must be a positive finite number, got {capacity!r}")
    return max(1, _ceil(volume / capacity))


def selfhost_cost_for_volume(selfhost: SelfHostPlan, capacity: float | None, prompts_per_day: float) -> float:
    """Daily cost of self-hosting a volume: whole replicas (one when capacity is unchecked) plus ops."""
    replicas = replicas_for_volume(capacity, prompts_per_day)
    return replicas * replica_cost_per_day(selfhost) + selfhost.ops_per_day


def _check_volume(prompts_per_day: float) -> float:
    if isinstance(prompts_per_day, bool) or not (math.isfinite(prompts_per_day) and prompts_per_day >= 0):
        raise ValueError(f"prompts_per_day must be a finite number >= 0, got {prompts_per_day!r}")
    return float(prompts_per_day)


def compute(api: ApiPrices, workload: Workload, selfhost: SelfHostPlan) -> Breakeven:
    """Smallest daily volume at which self-hosting costs no more than the API, or why none exists."""
    cost = api_cost_per_prompt(api, workload)
    replica_cost = replica_cost_per_day(selfhost)
    capacity = capacity_prompts_per_day(selfhost, workload)
    ops = selfhost.ops_per_day

    def never(reason: str) -> Breakeven:
        return Breakeven(
            api_cost_per_prompt=cost,
            replica_cost_per_day=replica_cost,
            capacity_prompts_per_day=capacity,
            capacity_checked=capacity is not None,
            replicas=None,
            breakeven_prompts_per_day=None,
            breakeven_prompts_per_day_rounded=None,
            selfhost_cost_per_day=None,
            selfhost_cost_per_month=None,
            api_cost_per_month_at_breakeven=None,
            verdict="never",
            reason=reason,
        )

    if cost <= 0:
        return never(REASON_API_COST_IS_ZERO)

    if capacity is None:
        replicas = 1
        volume = (replica_cost + ops) / cost
    else:
        api_cost_at_capacity = cost * capacity
        # Each replica run at capacity saves `margin` a day against the API; the savings must cover ops.
        margin = api_cost_at_capacity - replica_cost
        # A tie counts as never (DESIGN.md: replica cost >= API cost at capacity), hence the slack.
        if margin <= api_cost_at_capacity * REL_EPS:
            return never(REASON_REPLICA_COST_EXCEEDS)
        # Smallest k >= 1 with k * margin >= ops, in closed form.
        needed = ops / margin
        if not math.isfinite(needed):
            return never(REASON_OUT_OF_RANGE)
        replicas = max(1, _ceil(needed))
        # Mathematically (k*R + O) / c <= k * capacity; the clamp keeps float slack from under-serving.
        volume = min((replicas * replica_cost + ops) / cost, replicas * capacity)

    selfhost_per_day = replicas * replica_cost + ops
    # Only absurd but individually valid inputs (a near-zero API cost, say) get here; JSON has no infinity.
    if not math.isfinite(volume * cost * DAYS_PER_MONTH + selfhost_per_day * DAYS_PER_MONTH):
        return never(REASON_OUT_OF_RANGE)

    return Breakeven(
        api_cost_per_prompt=cost,
        replica_cost_per_day=replica_cost,
        capacity_prompts_per_day=capacity,
        capacity_checked=capacity is not None,
        replicas=replicas,
        breakeven_prompts_per_day=volume,
        breakeven_prompts_per_day_rounded=_nearest(volume),
        selfhost_cost_per_day=selfhost_per_day,
        selfhost_cost_per_month=selfhost_per_day * DAYS_PER_MONTH,
        api_cost_per_month_at_breakeven=cost * volume * DAYS_PER_MONTH,
        verdict="breaks_even",
        reason=None,
    )
