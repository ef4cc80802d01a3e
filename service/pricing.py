"""The pricing catalogue: API token prices, GPU hourly prices and self-host plans, each with source and date.

The built-in catalogue ships as `pricing.toml` in this package; a user file is merged over it so that teams can
add their negotiated prices or measured plans without editing the package.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from functools import cached_property
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class CatalogueError(ValueError):
    """The catalogue (built-in or user file) cannot be read or is inconsistent."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FreeTier(_Entry):
    requests_per_day: int | None = Field(default=None, ge=0)
    tokens_per_day: int | None = Field(default=None, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=0)
    tokens_per_minute: int | None = Field(default=None, ge=0)


class ModelPrice(_Entry):
    provider: str
    model: str
    open_model: str | None = None
    input_per_m: float = Field(ge=0)
    output_per_m: float = Field(ge=0)
    cached_input_per_m: float | None = Field(default=None, ge=0)
    effective_from: date | None = None
    retired: date | None = None
    free_tier: FreeTier | None = None
    notes: str | None = None
    as_of: date
    source: str

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


class GpuPrice(_Entry):
    provider: str
    gpu: str
    hourly: float = Field(gt=0)
    vram_gb: float | None = Field(default=None, gt=0)
    as_of: date
    source: str

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.gpu}"


class PlanWorkload(_Entry):
    prompt_tokens: float = Field(ge=0)
    completion_tokens: float = Field(ge=0)


class Plan(_Entry):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    replaces: str | None = None
    gpu: str | None = None
    gpu_hourly: float | None = Field(default=None, gt=0)
    gpus_per_replica: int = Field(default=1, ge=1)
    requests_per_second: float | None = Field(default=None, gt=0)
    max_utilization: float | None = Field(default=None, gt=0, le=1)
    ops_per_day: float | None = Field(default=None, ge=0)
    workload: PlanWorkload | None = None
    endpoint: str | None = None
    notes: str | None = None
    as_of: date
    source: str

    @model_validator(mode="after")
    def _needs_a_gpu_price(self) -> Plan:
        if self.gpu is None and self.gpu_hourly is None:
            raise ValueError(f"plan {self.name!r} needs `gpu` (a [[gpus]] entry) or `gpu_hourly`")
        return self


class _CatalogueFile(_Entry):
    models: list[ModelPrice] = Field(default_factory=list)
    gpus: list[GpuPrice] = Field(default_factory=list)
    plans: list[Plan] = Field(default_factory=list)


class Catalogue:
    """Merged, validated catalogue with the look-ups the service needs."""

    def __init__(self, models: list[ModelPrice], gpus: list[GpuPrice], plans: list[Plan]):
        self.models = models
        self.gpus = gpus
        self.plans = plans
        for plan in plans:
            if plan.gpu is not None and plan.gpu_hourly is None and self.gpu(plan.gpu) is None:
                raise CatalogueError(f"plan {plan.name!r} names unknown gpu {plan.gpu!r}")

    @cached_property
    def _prices_by_model(self) -> dict[tuple[str, str], list[ModelPrice]]:
        by_model: dict[tuple[str, str], list[ModelPrice]] = {}
        for price in self.models:
            by_model.setdefault((price.provider, price.model), []).append(price)
        for prices in by_model.values():
            prices.sort(key=lambda p: p.effective_from or date.min)
        return by_model

    def price_for(self, provider: str, model: str, at: datetime | date | None = None) -> ModelPrice | None:
        """The price in force for this model on the given day (the latest entry effective on or before it)."""
        prices = self._prices_by_model.get((provider, model))
        if not prices:
            return None
        day = at.date() if isinstance(at, datetime) else at
        if day is None:
            return prices[-1]
        in_force = [p for p in prices if (p.effective_from or date.min) <= day]
        return in_force[-1] if in_force else prices[0]

    def gpu(self, ref: str) -> GpuPrice | None:
        return next((g for g in self.gpus if g.key == ref), None)

    def plan(self, name: str) -> Plan | None:
        return next((p for p in self.plans if p.name == name), None)

    def default_plan_for(self, provider: str, model: str) -> Plan | None:
        return next((p for p in self.plans if p.replaces == f"{provider}/{model}"), None)

    def plan_gpu_hourly(self, plan: Plan) -> tuple[float, str, date]:
        """The plan's GPU-hour price with the source and date it comes from."""
        if plan.gpu_hourly is not None:
            return plan.gpu_hourly, plan.source, plan.as_of
        gpu = self.gpu(plan.gpu or "")
        if gpu is None:
            raise CatalogueError(f"plan {plan.name!r} names unknown gpu {plan.gpu!r}")
        return gpu.hourly, gpu.source, gpu.as_of


def _read(text: str, origin: str) -> _CatalogueFile:
    try:
        return _CatalogueFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{origin}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise CatalogueError(f"{origin}: {problems}") from exc


def _merge(base: list, extra: list, key) -> list:
    merged = {key(entry): entry for entry in base}
    for entry in extra:
        merged[key(entry)] = entry
    return list(merged.values())


def load_catalogue(user_file: Path | None = None) -> Catalogue:
    """The built-in catalogue, with `user_file` (if it exists) merged over it."""
    builtin = _read(resources.files("service").joinpath("pricing.toml").read_text(), "built-in pricing.toml")
    models, gpus, plans = builtin.models, builtin.gpus, builtin.plans
    if user_file is not None and user_file.exists():
        user = _read(user_file.read_text(), str(user_file))
        models = _merge(models, user.models, lambda m: (m.provider, m.model, m.effective_from))
        gpus = _merge(gpus, user.gpus, lambda g: g.key)
        plans = _merge(plans, user.plans, lambda p: p.name)
    return Catalogue(models, gpus, plans)
