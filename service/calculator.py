"""What-if inputs for the engine, from explicit figures or named from the catalogue (API and CLI share this)."""

from __future__ import annotations

from pydantic import ValidationError

from service import engine
from service.errors import ApiError, from_validation
from service.pricing import Catalogue


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "validation_error",
        f"{field}: {message}",
        [{"field": field, "message": message, "type": "value_error"}],
    )


def _validated(model: type, values: dict, prefix: str):
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc, (prefix,)) from exc


def resolve(catalogue: Catalogue, body: dict) -> tuple[engine.ApiPrices, engine.Workload, engine.SelfHostPlan, dict]:
    """Builds the three engine inputs. `api` may name `provider` + `model` and `selfhost` a `plan`; explicit
    figures given beside a name override the catalogue's. Returns the inputs and where each came from."""
    for part in ("api", "workload", "selfhost"):
        if part in body and not isinstance(body[part], dict):
            raise _invalid(part, "must be an object")
    unknown = set(body) - {"api", "workload", "selfhost"}
    if unknown:
        raise _invalid(sorted(unknown)[0], "unknown field (expected api, workload, selfhost)")
    api_in = dict(body.get("api") or {})
    selfhost_in = dict(body.get("selfhost") or {})
    workload_in = body.get("workload")
    sources: dict = {}

    named_plan = catalogue.plan(selfhost_in["plan"]) if isinstance(selfhost_in.get("plan"), str) else None
    if not api_in and named_plan is not None and named_plan.replaces:
        # A plan says which API model it replaces: compare against that one unless told otherwise.
        provider, _, model = named_plan.replaces.partition("/")
        api_in = {"provider": provider, "model": model}
    if "model" in api_in or "provider" in api_in:
        provider, model = api_in.pop("provider", "groq"), api_in.pop("model", None)
        if not isinstance(provider, str) or not isinstance(model, str | None):
            raise _invalid("api.model", "provider and model must be strings")
        price = catalogue.price_for(provider, model) if model else None
        if price is None:
            raise _invalid("api.model", f"no price for {provider}/{model} in the catalogue")
        api_in = {
            "input_per_m": price.input_per_m,
            "output_per_m": price.output_per_m,
            "cached_input_per_m": price.cached_input_per_m,
            **api_in,
        }
        sources["api"] = {
            "provider": provider,
            "model": model,
            "source": price.source,
            "as_of": price.as_of.isoformat(),
        }
    api = _validated(engine.ApiPrices, api_in, "api")

    plan_workload = None
    if "plan" in selfhost_in:
        name = selfhost_in.pop("plan")
        plan = catalogue.plan(name) if isinstance(name, str) else None
        if plan is None:
            raise _invalid("selfhost.plan", f"unknown plan {name!r}; `breakeven prices` lists the plans")
        gpu_hourly, gpu_source, gpu_as_of = catalogue.plan_gpu_hourly(plan)
        defaults = {
            "gpu_hourly": gpu_hourly,
            "gpus_per_replica": plan.gpus_per_replica,
            "requests_per_second": plan.requests_per_second,
        }
        if plan.max_utilization is not None:
            defaults["max_utilization"] = plan.max_utilization
        if plan.ops_per_day is not None:
            defaults["ops_per_day"] = plan.ops_per_day
        selfhost_in = {**defaults, **selfhost_in}
        plan_workload = plan.workload
        sources["selfhost"] = {
            "plan": plan.name,
            "gpu": plan.gpu,
            "source": plan.source,
            "as_of": plan.as_of.isoformat(),
            "gpu_source": gpu_source,
            "gpu_as_of": gpu_as_of.isoformat(),
        }
    selfhost = _validated(engine.SelfHostPlan, selfhost_in, "selfhost")

    if workload_in is None:
        if plan_workload is None:
            raise _invalid("workload", "is required (prompt_tokens, completion_tokens) unless the plan states one")
        workload_in = plan_workload.model_dump()
        sources["workload"] = {"source": "the plan's stated workload"}
    workload = _validated(engine.Workload, workload_in, "workload")
    return api, workload, selfhost, sources


def summary(result: engine.Breakeven) -> str:
    if result.verdict == "never":
        if result.reason == engine.REASON_API_COST_IS_ZERO:
            return "Never: the API costs nothing per prompt at these prices."
        return (
            f"Never: one replica costs ${result.replica_cost_per_day:,.2f}/day but serves at most "
            f"{result.capacity_prompts_per_day or 0:,.0f} prompts/day, worth "
            f"${result.api_cost_per_prompt * (result.capacity_prompts_per_day or 0):,.2f} on the API."
        )
    text = (
        f"Break-even at {result.breakeven_prompts_per_day_rounded:,} prompts/day "
        f"({result.replicas} replica{'s' if result.replicas != 1 else ''}, "
        f"${result.selfhost_cost_per_day:,.2f}/day against ${result.api_cost_per_prompt:.6f} per prompt on the API)."
    )
    if not result.capacity_checked:
        text += " Capacity unchecked: no requests_per_second given, so one replica is assumed to serve any volume."
    return text


def calculate(catalogue: Catalogue, body: dict) -> dict:
    api, workload, selfhost, sources = resolve(catalogue, body)
    result = engine.compute(api, workload, selfhost)
    return {
        **result.model_dump(),
        "summary": summary(result),
        "inputs": {
            "api": api.model_dump(),
            "workload": workload.model_dump(),
            "selfhost": selfhost.model_dump(),
            "sources": sources,
        },
    }
