"""Tests for the pure break-even engine (DESIGN.md section 1)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.engine import (
    REASON_API_COST_IS_ZERO,
    REASON_REPLICA_COST_EXCEEDS,
    ApiPrices,
    Breakeven,
    SelfHostPlan,
    Workload,
    api_cost_per_day,
    api_cost_per_prompt,
    capacity_prompts_per_day,
    compute,
    replica_cost_per_day,
    replicas_for_volume,
    selfhost_cost_for_volume,
)

# Groq Llama 3.1 70B prices and a RunPod A40, the worked example of DESIGN.md.
GROQ_70B = ApiPrices(input_per_m=0.59, output_per_m=0.79)
A40 = SelfHostPlan(gpu_hourly=0.39)


def test_worked_example_from_design():
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=0), A40)

    assert result.verdict == "breaks_even"
    assert result.reason is None
    assert result.api_cost_per_prompt == pytest.approx(0.00295)
    assert result.replica_cost_per_day == pytest.approx(9.36)
    assert result.capacity_checked is False
    assert result.capacity_prompts_per_day is None
    assert result.replicas == 1
    assert result.breakeven_prompts_per_day == pytest.approx(3172.8813559322)
    assert result.breakeven_prompts_per_day_rounded == 3173
    assert result.selfhost_cost_per_day == pytest.approx(9.36)
    assert result.selfhost_cost_per_month == pytest.approx(280.80)
    assert result.api_cost_per_month_at_breakeven == pytest.approx(280.80)


def test_output_tokens_priced_at_output_price():
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=500), A40)

    # 5000 x 0.59 + 500 x 0.79 = 3345 USD per million prompts.
    assert result.api_cost_per_prompt == pytest.approx(0.003345)
    # 9.36 / 0.003345 = 2798.206...: quoted as 2,798 (the figure); the exact value stays beside it.
    assert result.breakeven_prompts_per_day == pytest.approx(9.36 / 0.003345)
    assert result.breakeven_prompts_per_day == pytest.approx(2798.2062780)
    assert result.breakeven_prompts_per_day_rounded == 2798


def test_cached_tokens_priced_at_cached_price():
    api = ApiPrices(input_per_m=0.59, output_per_m=0.79, cached_input_per_m=0.295)
    workload = Workload(prompt_tokens=5000, cached_tokens=2000, completion_tokens=500)

    # 3000 x 0.59 + 2000 x 0.295 + 500 x 0.79 = 2755 USD per million prompts.
    assert api_cost_per_prompt(api, workload) == pytest.approx(0.002755)
    assert compute(api, workload, A40).breakeven_prompts_per_day == pytest.approx(9.36 / 0.002755)


def test_cached_price_defaults_to_input_price():
    api = ApiPrices(input_per_m=0.59, output_per_m=0.79)
    assert api.cached_input_per_m == 0.59
    with_cache = Workload(prompt_tokens=5000, cached_tokens=2000, completion_tokens=500)
    without_cache = Workload(prompt_tokens=5000, completion_tokens=500)
    assert api_cost_per_prompt(api, with_cache) == pytest.approx(api_cost_per_prompt(api, without_cache))


def test_batch_discount_scales_api_cost():
    api = ApiPrices(input_per_m=0.59, output_per_m=0.79, batch_discount=0.5)
    workload = Workload(prompt_tokens=5000, completion_tokens=500)

    assert api_cost_per_prompt(api, workload) == pytest.approx(0.0016725)
    result = compute(api, workload, A40)
    assert result.breakeven_prompts_per_day == pytest.approx(9.36 / 0.0016725)
    assert result.breakeven_prompts_per_day_rounded == 5596


def test_full_batch_discount_means_never():
    api = ApiPrices(input_per_m=0.59, output_per_m=0.79, batch_discount=1)
    result = compute(api, Workload(prompt_tokens=5000, completion_tokens=500), A40)
    assert result.verdict == "never"
    assert result.reason == REASON_API_COST_IS_ZERO


def test_zero_api_cost_is_never():
    free = ApiPrices(input_per_m=0, output_per_m=0)
    result = compute(free, Workload(prompt_tokens=5000, completion_tokens=9), A40)

    assert result.verdict == "never"
    assert result.reason == REASON_API_COST_IS_ZERO
    assert result.api_cost_per_prompt == 0
    assert result.replica_cost_per_day == pytest.approx(9.36)
    for field in (
        "replicas",
        "breakeven_prompts_per_day",
        "breakeven_prompts_per_day_rounded",
        "selfhost_cost_per_day",
        "selfhost_cost_per_month",
        "api_cost_per_month_at_breakeven",
    ):
        assert getattr(result, field) is None, field


def test_ops_cost_added_to_unchecked_breakeven():
    plan = SelfHostPlan(gpu_hourly=0.39, ops_per_day=5)
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=0), plan)

    assert result.breakeven_prompts_per_day == pytest.approx(14.36 / 0.00295)
    assert result.breakeven_prompts_per_day_rounded == 4868
    assert result.selfhost_cost_per_day == pytest.approx(14.36)
    assert result.selfhost_cost_per_month == pytest.approx(430.80)


def test_gpus_per_replica_multiply_replica_cost():
    plan = SelfHostPlan(gpu_hourly=0.39, gpus_per_replica=2)
    assert replica_cost_per_day(plan) == pytest.approx(18.72)
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=0), plan)
    assert result.breakeven_prompts_per_day == pytest.approx(18.72 / 0.00295)


def test_capacity_limited_case_needs_three_replicas():
    # By hand: cost per prompt 0.003345; capacity 0.05 rps x 86400 x 0.8 = 3456 prompts/day, where the API
    # would cost 11.56032 a day against 9.36 for the replica: 2.20032 a day saved per full replica. Ops of 5
    # a day need ceil(5 / 2.20032) = ceil(2.2724) = 3 replicas. Two replicas cost 23.72 a day but replace
    # only 23.12064 of API spend; three cost 33.08 and replace up to 34.68096.
    plan = SelfHostPlan(gpu_hourly=0.39, requests_per_second=0.05, ops_per_day=5)
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=500), plan)

    assert result.capacity_checked is True
    assert result.capacity_prompts_per_day == pytest.approx(3456)
    assert result.replicas == 3
    assert result.selfhost_cost_per_day == pytest.approx(33.08)
    assert result.selfhost_cost_per_month == pytest.approx(992.40)
    assert result.breakeven_prompts_per_day == pytest.approx(33.08 / 0.003345)
    assert result.breakeven_prompts_per_day == pytest.approx(9889.3871450)
    assert result.breakeven_prompts_per_day_rounded == 9889
    assert result.api_cost_per_month_at_breakeven == pytest.approx(992.40)
    assert 2 * 3456 < result.breakeven_prompts_per_day <= 3 * 3456


def test_capacity_limited_case_without_ops_needs_one_replica():
    plan = SelfHostPlan(gpu_hourly=0.39, requests_per_second=0.05)
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=500), plan)
    assert result.replicas == 1
    assert result.breakeven_prompts_per_day == pytest.approx(9.36 / 0.003345)


def test_peak_to_average_shrinks_capacity_until_never():
    plan = SelfHostPlan(gpu_hourly=0.39, requests_per_second=0.05)
    bursty = Workload(prompt_tokens=5000, completion_tokens=500, peak_to_average=1.5)

    # 3456 / 1.5 = 2304 prompts a day per replica: 7.70688 of API spend against 9.36 of GPU.
    assert capacity_prompts_per_day(plan, bursty) == pytest.approx(2304)
    result = compute(GROQ_70B, bursty, plan)
    assert result.verdict == "never"
    assert result.reason == REASON_REPLICA_COST_EXCEEDS
    assert result.capacity_prompts_per_day == pytest.approx(2304)
    assert result.replicas is None
    assert result.breakeven_prompts_per_day is None


def test_never_when_replica_costs_more_than_api_at_capacity():
    # A 70B model on one A40 at 0.03 rps: 2073.6 prompts a day, 6.936 of API spend, 9.36 of GPU.
    plan = SelfHostPlan(gpu_hourly=0.39, requests_per_second=0.03, ops_per_day=1)
    result = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=500), plan)

    assert result.verdict == "never"
    assert result.reason == REASON_REPLICA_COST_EXCEEDS
    assert result.capacity_prompts_per_day == pytest.approx(2073.6)
    assert result.selfhost_cost_per_day is None
    assert result.selfhost_cost_per_month is None
    assert result.api_cost_per_month_at_breakeven is None


def test_exact_tie_at_capacity_is_never_despite_float_noise():
    # 0.05/M x 500 tokens = 2.5e-5 per prompt; 10/3 rps x 86400 = 288,000 prompts a day: exactly 7.20 of
    # API spend against 7.20 of GPU. In floats the API side comes out 8.9e-16 larger.
    api = ApiPrices(input_per_m=0.05, output_per_m=0)
    workload = Workload(prompt_tokens=500, completion_tokens=0)
    plan = SelfHostPlan(gpu_hourly=0.3, requests_per_second=10 / 3, max_utilization=1)
    assert replica_cost_per_day(plan) < api_cost_per_prompt(api, workload) * capacity_prompts_per_day(plan, workload)

    result = compute(api, workload, plan)
    assert result.verdict == "never"
    assert result.reason == REASON_REPLICA_COST_EXCEEDS


def test_integer_breakeven_is_not_rounded_up_by_float_noise():
    # 0.1 x 24 / (0.3/M x 1000) = 8000 exactly; in floats 8000.000000000002.
    api = ApiPrices(input_per_m=0.3, output_per_m=0)
    result = compute(api, Workload(prompt_tokens=1000, completion_tokens=0), SelfHostPlan(gpu_hourly=0.1))

    assert math.ceil(result.breakeven_prompts_per_day) == 8001
    assert result.breakeven_prompts_per_day_rounded == 8000


def test_exact_replica_boundary_is_not_rounded_up_by_float_noise():
    # 1e-4 per prompt, 48,000 prompts a day per replica (4.80 of API spend), replica 2.40 a day: each replica
    # saves 2.40, so ops of 4.80 need exactly 2 replicas and the break-even is (4.80 + 4.80) / 1e-4 = 96,000.
    api = ApiPrices(input_per_m=0.1, output_per_m=0)
    workload = Workload(prompt_tokens=1000, completion_tokens=0)
    plan = SelfHostPlan(gpu_hourly=0.1, requests_per_second=5 / 9, max_utilization=1, ops_per_day=4.8)
    api_at_capacity = api_cost_per_prompt(api, workload) * capacity_prompts_per_day(plan, workload)
    margin = api_at_capacity - replica_cost_per_day(plan)
    assert math.ceil(4.8 / margin) == 3

    result = compute(api, workload, plan)
    assert result.replicas == 2
    assert result.breakeven_prompts_per_day == pytest.approx(96_000)
    assert result.breakeven_prompts_per_day_rounded == 96_000
    assert result.selfhost_cost_per_day == pytest.approx(9.6)
    # (2 x 2.4 + 4.8) / 1e-4 comes out 96000.00000000001, a hair above what two replicas serve.
    assert result.breakeven_prompts_per_day <= 2 * capacity_prompts_per_day(plan, workload)


def test_api_cost_per_day_scales_with_volume():
    workload = Workload(prompt_tokens=5000, completion_tokens=500)
    assert api_cost_per_day(GROQ_70B, workload, 0) == 0
    assert api_cost_per_day(GROQ_70B, workload, 1000) == pytest.approx(3.345)
    with pytest.raises(ValueError, match="prompts_per_day"):
        api_cost_per_day(GROQ_70B, workload, -1)


def test_selfhost_cost_for_volume_counts_whole_replicas():
    plan = SelfHostPlan(gpu_hourly=0.39, ops_per_day=5)

    # An idle deployment still pays for one always-on GPU.
    assert selfhost_cost_for_volume(plan, 3456, 0) == pytest.approx(14.36)
    assert selfhost_cost_for_volume(plan, 3456, 3456) == pytest.approx(14.36)
    assert selfhost_cost_for_volume(plan, 3456, 3457) == pytest.approx(23.72)
    assert selfhost_cost_for_volume(plan, 3456, 10_000) == pytest.approx(33.08)
    # Unchecked capacity: one replica whatever the volume.
    assert selfhost_cost_for_volume(plan, None, 1_000_000) == pytest.approx(14.36)


@pytest.mark.parametrize(
    ("capacity", "volume", "message"),
    [(3456, -1, "prompts_per_day"), (3456, math.nan, "prompts_per_day"), (0, 10, "capacity")],
)
def test_replicas_for_volume_rejects_bad_arguments(capacity, volume, message):
    with pytest.raises(ValueError, match=message):
        replicas_for_volume(capacity, volume)


def test_breakeven_dumps_to_plain_dict():
    dumped = compute(GROQ_70B, Workload(prompt_tokens=5000, completion_tokens=0), A40).model_dump()
    assert set(dumped) == set(Breakeven.model_fields)
    assert dumped["verdict"] == "breaks_even"
    assert dumped["breakeven_prompts_per_day_rounded"] == 3173


# --- validation --------------------------------------------------------------------------------------------

API_OK = {"input_per_m": 0.59, "output_per_m": 0.79}
WORKLOAD_OK = {"prompt_tokens": 5000, "completion_tokens": 500}
PLAN_OK = {"gpu_hourly": 0.39}


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (ApiPrices, {**API_OK, "input_per_m": -0.01}, "input_per_m"),
        (ApiPrices, {**API_OK, "output_per_m": -1}, "output_per_m"),
        (ApiPrices, {**API_OK, "cached_input_per_m": -1}, "cached_input_per_m"),
        (ApiPrices, {**API_OK, "batch_discount": 1.5}, "batch_discount"),
        (ApiPrices, {**API_OK, "batch_discount": -0.1}, "batch_discount"),
        (ApiPrices, {**API_OK, "input_per_m": math.inf}, "input_per_m"),
        (ApiPrices, {**API_OK, "input_per_m": math.nan}, "input_per_m"),
        (ApiPrices, {**API_OK, "input_per_m": True}, "input_per_m"),
        (ApiPrices, {"output_per_m": 0.79}, "input_per_m"),
        (ApiPrices, {**API_OK, "currency": "EUR"}, "currency"),
        (Workload, {**WORKLOAD_OK, "cached_tokens": 5001}, "cached_tokens"),
        (Workload, {**WORKLOAD_OK, "cached_tokens": -1}, "cached_tokens"),
        (Workload, {**WORKLOAD_OK, "prompt_tokens": -5}, "prompt_tokens"),
        (Workload, {**WORKLOAD_OK, "completion_tokens": -5}, "completion_tokens"),
        (Workload, {**WORKLOAD_OK, "peak_to_average": 0.99}, "peak_to_average"),
        (Workload, {"prompt_tokens": 5000}, "completion_tokens"),
        (SelfHostPlan, {"gpu_hourly": 0}, "gpu_hourly"),
        (SelfHostPlan, {"gpu_hourly": -0.39}, "gpu_hourly"),
        (SelfHostPlan, {**PLAN_OK, "gpus_per_replica": 0}, "gpus_per_replica"),
        (SelfHostPlan, {**PLAN_OK, "gpus_per_replica": 1.5}, "gpus_per_replica"),
        (SelfHostPlan, {**PLAN_OK, "requests_per_second": 0}, "requests_per_second"),
        (SelfHostPlan, {**PLAN_OK, "max_utilization": 0}, "max_utilization"),
        (SelfHostPlan, {**PLAN_OK, "max_utilization": 1.01}, "max_utilization"),
        (SelfHostPlan, {**PLAN_OK, "ops_per_day": -1}, "ops_per_day"),
    ],
)
def test_invalid_input_names_the_field(model, data, field):
    with pytest.raises(ValidationError) as excinfo:
        model.model_validate(data)
    errors = excinfo.value.errors()
    assert [error["loc"] for error in errors] == [(field,)]


def test_cached_tokens_error_message_explains_the_limit():
    message = r"cached_tokens \(6000\) must not exceed prompt_tokens \(5000\)"
    with pytest.raises(ValidationError, match=message):
        Workload.model_validate_json('{"prompt_tokens": 5000, "cached_tokens": 6000, "completion_tokens": 0}')


def test_cached_tokens_equal_to_prompt_tokens_is_valid():
    assert Workload(prompt_tokens=5000, cached_tokens=5000, completion_tokens=0).cached_tokens == 5000


def test_json_body_parses_with_defaults():
    plan = SelfHostPlan.model_validate_json('{"gpu_hourly": 0.39}')
    assert plan.gpus_per_replica == 1
    assert plan.requests_per_second is None
    assert plan.max_utilization == 0.8
    assert plan.ops_per_day == 0


# --- properties --------------------------------------------------------------------------------------------

# Plausible ranges (zero included); the extremes of the accepted ranges have their own test below.
prices = st.just(0.0) | st.floats(min_value=1e-4, max_value=100.0)
tokens = st.just(0.0) | st.floats(min_value=1e-3, max_value=200_000.0)


@st.composite
def api_prices(draw: st.DrawFn) -> ApiPrices:
    input_per_m = draw(prices)
    return ApiPrices(
        input_per_m=input_per_m,
        output_per_m=draw(prices),
        cached_input_per_m=draw(st.none() | st.floats(min_value=0.0, max_value=input_per_m) | prices),
        batch_discount=draw(st.sampled_from([0.0, 0.25, 0.5]) | st.floats(min_value=0.0, max_value=0.99)),
    )


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    prompt = draw(tokens)
    return Workload(
        prompt_tokens=prompt,
        cached_tokens=prompt * draw(st.just(0.0) | st.floats(min_value=1e-3, max_value=1.0)),
        completion_tokens=draw(tokens),
        peak_to_average=draw(st.floats(min_value=1.0, max_value=10.0)),
    )


@st.composite
def plans(draw: st.DrawFn, checked: bool | None = None) -> SelfHostPlan:
    rps = st.floats(min_value=0.001, max_value=100.0)
    if checked is None:
        rps = st.none() | rps
    elif not checked:
        rps = st.none()
    return SelfHostPlan(
        gpu_hourly=draw(st.floats(min_value=0.01, max_value=50.0)),
        gpus_per_replica=draw(st.integers(min_value=1, max_value=8)),
        requests_per_second=draw(rps),
        max_utilization=draw(st.floats(min_value=0.05, max_value=1.0)),
        ops_per_day=draw(st.just(0.0) | st.floats(min_value=0.0, max_value=1000.0)),
    )


def _volume_or_inf(result: Breakeven) -> float:
    return math.inf if result.breakeven_prompts_per_day is None else result.breakeven_prompts_per_day


@settings(max_examples=400, deadline=None)
@given(api_prices(), workloads(), plans())
def test_costs_are_equal_at_breakeven(api, workload, plan):
    result = compute(api, workload, plan)
    assume(result.verdict == "breaks_even")
    volume = result.breakeven_prompts_per_day

    api_side = api_cost_per_day(api, workload, volume)
    selfhost_side = selfhost_cost_for_volume(plan, result.capacity_prompts_per_day, volume)
    assert math.isclose(api_side, selfhost_side, rel_tol=1e-7)
    assert math.isclose(api_side, result.selfhost_cost_per_day, rel_tol=1e-7)
    assert math.isclose(result.api_cost_per_month_at_breakeven, result.selfhost_cost_per_month, rel_tol=1e-7)
    assert abs(result.breakeven_prompts_per_day_rounded - volume) <= 0.5 + volume * 2e-9


@settings(max_examples=400, deadline=None)
@given(api_prices(), workloads(), plans(checked=True))
def test_replicas_cover_the_breakeven_volume(api, workload, plan):
    result = compute(api, workload, plan)
    assume(result.verdict == "breaks_even")
    assert result.replicas * result.capacity_prompts_per_day >= result.breakeven_prompts_per_day


@settings(max_examples=400, deadline=None)
@given(api_prices(), workloads(), plans(checked=True))
def test_replicas_are_minimal_and_sufficient(api, workload, plan):
    result = compute(api, workload, plan)
    assume(result.verdict == "breaks_even")
    cost = result.api_cost_per_prompt
    capacity = result.capacity_prompts_per_day
    replica_cost = result.replica_cost_per_day

    def selfhost_at_full_capacity(k: int) -> float:
        return k * replica_cost + plan.ops_per_day

    k = result.replicas
    assert selfhost_at_full_capacity(k) <= cost * k * capacity * (1 + 1e-8)
    # Fewer replicas, each run flat out, must not beat the API. Feasibility only grows with k, so checking
    # a bounded sample (every k up to 500, and the one just below) covers the interesting ones.
    for smaller in {*range(1, min(k, 500)), k - 1} - {0}:
        assert selfhost_at_full_capacity(smaller) >= cost * smaller * capacity * (1 - 1e-9)


@settings(max_examples=300, deadline=None)
@given(api_prices(), workloads(), plans(checked=True))
def test_never_means_no_replica_count_pays_off(api, workload, plan):
    result = compute(api, workload, plan)
    assume(result.verdict == "never")
    api_at_capacity = result.api_cost_per_prompt * result.capacity_prompts_per_day
    assert result.replica_cost_per_day >= api_at_capacity * (1 - 2e-9)


@settings(max_examples=300, deadline=None)
@given(api_prices(), workloads(), plans(checked=False))
def test_unchecked_capacity_uses_one_replica(api, workload, plan):
    result = compute(api, workload, plan)
    assert result.capacity_checked is False
    if result.api_cost_per_prompt > 0:
        assert result.replicas == 1
        expected = (result.replica_cost_per_day + plan.ops_per_day) / result.api_cost_per_prompt
        assert result.breakeven_prompts_per_day == pytest.approx(expected, rel=1e-12)
    else:
        assert result.reason == REASON_API_COST_IS_ZERO


@settings(max_examples=400, deadline=None)
@given(
    api_prices(),
    workloads(),
    plans(),
    st.sampled_from(["input_per_m", "output_per_m"]),
    st.floats(min_value=1.0, max_value=1000.0),
)
def test_breakeven_does_not_rise_with_api_prices(api, workload, plan, field, factor):
    base = getattr(api, field)
    raised = api.model_copy(update={field: max(base * factor, base + 0.001)})
    before, after = compute(api, workload, plan), compute(raised, workload, plan)
    assert _volume_or_inf(after) <= _volume_or_inf(before) * (1 + 1e-12)
    if before.verdict == "breaks_even":
        assert after.verdict == "breaks_even"


@settings(max_examples=400, deadline=None)
@given(api_prices(), workloads(), plans(), st.floats(min_value=1.0, max_value=1000.0))
def test_breakeven_does_not_fall_with_gpu_price(api, workload, plan, factor):
    dearer = plan.model_copy(update={"gpu_hourly": plan.gpu_hourly * factor})
    before, after = compute(api, workload, plan), compute(api, workload, dearer)
    assert _volume_or_inf(after) >= _volume_or_inf(before) * (1 - 1e-12)
    if before.verdict == "never":
        assert after.verdict == "never"


valid_price = st.floats(min_value=0.0, max_value=1e6)
valid_tokens = st.floats(min_value=0.0, max_value=1e9)


@settings(max_examples=300, deadline=None)
@given(
    valid_price,
    valid_price,
    valid_tokens,
    valid_tokens,
    st.floats(min_value=1.0, max_value=1e6),
    st.floats(min_value=5e-324, max_value=1e6),
    st.integers(min_value=1, max_value=1_000_000),
    st.none() | st.floats(min_value=5e-324, max_value=1e9),
    st.floats(min_value=5e-324, max_value=1.0),
    st.floats(min_value=0.0, max_value=1e12),
)
def test_any_valid_input_gives_finite_outputs(inp, out, prompt, completion, peak, hourly, gpus, rps, util, ops):
    """Extremes of the accepted ranges must neither raise nor emit infinities, which JSON cannot carry."""
    result = compute(
        ApiPrices(input_per_m=inp, output_per_m=out),
        Workload(prompt_tokens=prompt, completion_tokens=completion, peak_to_average=peak),
        SelfHostPlan(
            gpu_hourly=hourly,
            gpus_per_replica=gpus,
            requests_per_second=rps,
            max_utilization=util,
            ops_per_day=ops,
        ),
    )
    for name, value in result.model_dump().items():
        if isinstance(value, float):
            assert math.isfinite(value), name
    if result.verdict == "breaks_even":
        assert result.replicas >= 1
        # Not > 0: a GPU at 5e-324 USD/h is accepted, and its break-even underflows to zero.
        assert result.breakeven_prompts_per_day >= 0
    else:
        assert result.reason is not None
