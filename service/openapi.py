"""OpenAPI 3.1 description of the HTTP API (`GET /openapi.json`) and a page that renders it (`GET /docs`).

Request schemas come from the pydantic models that validate the requests (RunIn, RunBatchIn, UsageQuery,
WebhookIn, ApiPrices, Workload, SelfHostPlan); response schemas from the models below, which mirror what the
views return and are checked against real responses by the schemathesis run (tests/test_schemathesis.py).
Names that must exist in the catalogue (models, plans) are listed as enums taken from the running service's
catalogue, so a client generated from the document offers exactly the names this server accepts.
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from typing import Any, Literal

from flask import Blueprint, Flask, current_app, render_template
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from service import engine
from service.api.webhooks import WebhookIn
from service.dashboard import CSP
from service.schemas import RunBatchIn, RunIn
from service.usage import UsageQuery

OPENAPI_VERSION = "3.1.0"
_CACHE_KEY = "breakeven.openapi"
REF = "#/components/schemas/{model}"


# ---- Response bodies -------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_error, unauthorized, conflict.")
    message: str = Field(description="One sentence for people; names the offending field.")
    details: list[ErrorDetail] | None = Field(description="One entry per invalid field, when there are fields.")


class Error(BaseModel):
    """The one error shape of every failure."""

    error: ErrorBody


class RunResult(BaseModel):
    id: str
    status: Literal["created", "duplicate", "conflict"]
    cost_usd: float | None = Field(description="USD at the catalogue price in force; null when unpriced.")
    warning: str | None = Field(default=None, description="Present when the model has no catalogue price.")


class BatchResult(BaseModel):
    results: list[RunResult] = Field(description="One per input run, in input order.")
    created: int
    duplicate: int
    conflict: int


class UsageSums(BaseModel):
    prompts: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    unpriced_runs: int


class DayRow(UsageSums):
    day: date


class ModelRow(UsageSums):
    provider: str
    model: str


class WorkflowRow(UsageSums):
    workflow_id: str | None


class Usage(BaseModel):
    start: date
    end: date
    group_by: Literal["day", "model", "workflow"]
    rows: list[DayRow | ModelRow | WorkflowRow] = Field(description="By day: every day in range, zeros included.")
    totals: UsageSums


class MeasuredWorkload(BaseModel):
    prompt_tokens: float
    completion_tokens: float
    cached_tokens: float
    runs: int
    start: date
    end: date


class ApiInputs(engine.ApiPrices):
    model_config = ConfigDict(extra="allow")

    provider: str
    model: str
    source: str
    as_of: date


class WorkloadInputs(engine.Workload):
    model_config = ConfigDict(extra="allow")

    source: str


class PlanWorkload(BaseModel):
    prompt_tokens: float
    completion_tokens: float


class SelfHostInputs(engine.SelfHostPlan):
    model_config = ConfigDict(extra="allow")

    plan: str
    gpu: str | None
    gpu_source: str
    gpu_as_of: date
    plan_source: str
    plan_as_of: date
    capacity_measured_at: PlanWorkload | None


class StatusInputs(BaseModel):
    api: ApiInputs
    workload: WorkloadInputs
    selfhost: SelfHostInputs


class FreeTier(BaseModel):
    requests_today: int
    requests_per_day: int | None
    tokens_today: int
    tokens_per_day: int | None
    used_ratio: float
    approaching: bool


class DayCount(BaseModel):
    day: date
    prompts: int


class Status(BaseModel):
    """Live break-even status of one model and plan."""

    provider: str
    model: str
    plan: str
    level: Literal["no_data", "never", "ok", "approaching", "reached"]
    daily_prompts: float | None = Field(description="Mean runs per complete day over the last window_days days.")
    prompts_today: int
    breakeven_prompts_per_day: float | None
    breakeven_ratio: float | None
    forecast_date: date | None = Field(description="When the 28-day trend crosses the break-even.")
    verdict: str = Field(description="One plain-English sentence.")
    as_of: datetime
    timezone: str
    window_days: int
    measured_workload: MeasuredWorkload | None
    calculation: engine.Breakeven
    inputs: StatusInputs
    free_tier: FreeTier | None
    history: list[DayCount] = Field(description="Complete days counted for the forecast, oldest first.")
    warnings: list[str]


class Unchecked(BaseModel):
    """A logged model whose status cannot be computed (no price or no plan); the verdict says what to add."""

    provider: str
    model: str
    level: Literal["unchecked"]
    verdict: str


class StatusList(BaseModel):
    models: list[Status | Unchecked]


class CalcInputs(BaseModel):
    api: engine.ApiPrices
    workload: engine.Workload
    selfhost: engine.SelfHostPlan
    sources: dict[str, dict[str, Any]] = Field(description="Where figures named from the catalogue came from.")


class CalcResult(engine.Breakeven):
    summary: str
    inputs: CalcInputs


class Webhook(BaseModel):
    id: str
    url: str = Field(description="Shown shortened: a Slack path or a query string may itself be a secret.")
    events: list[str]
    format: Literal["standard", "slack"]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(Webhook):
    secret: str = Field(pattern="^whsec_", description="Standard Webhooks signing secret, shown only here.")


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class Delivery(BaseModel):
    target: str
    url: str
    status: Literal["pending", "delivered", "dead", "cancelled"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class WebhookTest(BaseModel):
    alert_id: str
    delivery: Delivery


class Alert(BaseModel):
    id: str
    type: str
    provider: str
    model: str
    plan: str | None
    day: date
    created_at: datetime
    data: dict[str, Any] = Field(description="The status fields sent to receivers, with a one-line message.")
    deliveries: list[Delivery]


class AlertList(BaseModel):
    alerts: list[Alert]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]


class CatalogueModel(BaseModel):
    provider: str
    model: str
    input_per_m: float
    output_per_m: float
    cached_input_per_m: float | None
    retired: date | None
    as_of: date
    source: str
    plan: str | None = Field(description="The catalogue plan that replaces this model, if any.")


class CatalogueGpu(BaseModel):
    provider: str
    gpu: str
    hourly: float
    vram_gb: float | None
    as_of: date
    source: str


class CataloguePlan(BaseModel):
    name: str
    replaces: str | None
    gpu: str | None
    gpu_hourly: float
    gpus_per_replica: int
    requests_per_second: float | None
    max_utilization: float | None
    ops_per_day: float | None
    workload: PlanWorkload | None
    as_of: date
    source: str


class Thresholds(BaseModel):
    warn_ratio: float
    forecast_horizon_days: int
    window_days: int
    timezone: str
    plan: str | None


class Catalogue(BaseModel):
    models: list[CatalogueModel]
    gpus: list[CatalogueGpu]
    plans: list[CataloguePlan]
    thresholds: Thresholds


# ---- Request bodies that are not one pydantic model ------------------------------------------------------


class ApiFromCatalogue(BaseModel):
    """API prices named from the catalogue; figures given beside the name override the catalogue's."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "groq"
    model: str


class PlanFromCatalogue(BaseModel):
    """A self-host plan named from the catalogue; figures given beside the name override the plan's."""

    model_config = ConfigDict(extra="forbid")

    plan: str


# ---- Operations -------------------------------------------------------------------------------------------

ERRORS = {
    400: "The body is not valid JSON (or not an object).",
    401: "Missing or invalid API key.",
    403: "An ingest key used where a full key is needed.",
    404: "No such resource.",
    409: "The run id was already logged with different content.",
    413: "The body is larger than 1 MB.",
    422: "Invalid input; `details` names each field.",
    503: "The database does not answer.",
}
AUTH_ERRORS = (401, 403)


def _op(
    endpoint: str,
    responses: dict[int, tuple[str, str | None]],
    errors: tuple[int, ...],
    *,
    body: dict | None = None,
    params: list[dict] | None = None,
    secured: bool = True,
    tags: tuple[str, ...] = (),
    links: dict[int, dict] | None = None,
) -> dict:
    return {
        "links": links or {},
        "endpoint": endpoint,
        "responses": responses,
        "errors": (AUTH_ERRORS + errors) if secured else errors,
        "body": body,
        "params": params or [],
        "secured": secured,
        "tags": list(tags),
    }


def _query(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    param = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def _operations(catalogue, settings) -> dict[tuple[str, str], dict]:
    """Every route the service answers, keyed by (path, method). test_openapi checks this covers the url map."""
    model_names = sorted({m.model for m in catalogue.models})
    providers = sorted({m.provider for m in catalogue.models})
    plans = sorted(p.name for p in catalogue.plans)
    usage_params = [
        {"name": name, "in": "query", "required": False, "schema": _normalise(_non_null(prop))}
        | ({"description": prop["description"]} if "description" in prop else {})
        for name, prop in UsageQuery.model_json_schema()["properties"].items()
    ]
    webhook_id = {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        ("/v1/runs", "post"): _op(
            "runs.create",
            {201: ("A new run was stored.", "RunResult"), 200: ("Duplicate single run, or a batch.", "RunResponse")},
            (400, 409, 413, 422),
            body={"oneOf": [{"$ref": REF.format(model="RunIn")}, {"$ref": REF.format(model="RunBatchIn")}]},
            tags=("runs",),
        ),
        ("/v1/usage", "get"): _op(
            "usage.index", {200: ("Usage rows and totals.", "Usage")}, (422,), params=usage_params, tags=("usage",)
        ),
        ("/v1/breakeven", "get"): _op(
            "breakeven.status",
            {200: ("One model's status when `model` is given, else every logged model's.", "StatusResponse")},
            (422,),
            # provider and plan stay free strings: without `model` the service lists every logged model and
            # reports an unknown plan per model rather than refusing the request.
            params=[
                _query(
                    "model",
                    {"type": "string", "enum": ["", *model_names]},
                    "A catalogue model; absent or empty: every logged model.",
                ),
                _query(
                    "provider", {"type": "string", "default": "groq"}, "Catalogue providers: " + ", ".join(providers)
                ),
                _query(
                    "plan",
                    {"type": "string"},
                    "Default: BREAKEVEN_PLAN or the model's plan. Catalogue plans: " + ", ".join(plans),
                ),
            ],
            tags=("break-even",),
        ),
        ("/v1/breakeven/calc", "post"): _op(
            "breakeven.calc",
            {200: ("The break-even and its inputs.", "CalcResult")},
            (400, 413, 422),
            body={"$ref": REF.format(model="CalcIn")},
            tags=("break-even",),
        ),
        ("/v1/webhooks", "post"): _op(
            "webhooks.create",
            {201: ("Subscribed; the only response that shows the secret.", "WebhookCreated")},
            (400, 413, 422),
            body={"$ref": REF.format(model="WebhookIn")},
            tags=("alerts",),
            links={
                201: {
                    "TestWebhook": {"operationId": "webhooks_test", "parameters": {"webhook_id": "$response.body#/id"}},
                    "DeleteWebhook": {
                        "operationId": "webhooks_remove",
                        "parameters": {"webhook_id": "$response.body#/id"},
                    },
                }
            },
        ),
        ("/v1/webhooks", "get"): _op(
            "webhooks.index", {200: ("Subscriptions, without secrets.", "WebhookList")}, (), tags=("alerts",)
        ),
        ("/v1/webhooks/{webhook_id}", "delete"): _op(
            "webhooks.remove", {204: ("Unsubscribed.", None)}, (404,), params=[webhook_id], tags=("alerts",)
        ),
        ("/v1/webhooks/{webhook_id}/test", "post"): _op(
            "webhooks.test",
            {200: ("How the receiver answered the signed test alert.", "WebhookTest")},
            (404,),
            params=[webhook_id],
            tags=("alerts",),
        ),
        ("/v1/alerts", "get"): _op(
            "alerts.index",
            {200: ("Most recent alerts first, with their deliveries.", "AlertList")},
            (422,),
            params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50})],
            tags=("alerts",),
        ),
        ("/v1/catalogue", "get"): _op(
            "catalogue.index",
            {200: ("The pricing catalogue in use and the alert thresholds.", "Catalogue")},
            (),
            tags=("break-even",),
        ),
        ("/healthz", "get"): _op("health.healthz", {200: ("Up.", "Health")}, (), secured=False, tags=("operations",)),
        ("/readyz", "get"): _op(
            "health.readyz", {200: ("Ready.", "Ready")}, (503,), secured=False, tags=("operations",)
        ),
        ("/metrics", "get"): _op(
            "metrics.scrape", {200: ("Prometheus text exposition format.", "text")}, (), tags=("operations",)
        ),
    }


def _non_null(schema: dict) -> dict:
    """A query parameter is absent rather than null: keep the non-null branch of an Optional."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "default", "description")}
    branches = schema.pop("anyOf", None)
    if branches:
        kept = [b for b in branches if b.get("type") != "null"]
        schema.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
    return schema


_PYDANTIC_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _normalise(node: Any) -> Any:
    """Fixes what pydantic leaves behind: bounds on validator-wrapped numbers come out as `ge`/`le` keys, which
    JSON Schema ignores; `title` repeats the field name."""
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _normalise(prop) for name, prop in value.items()}
        elif key in _PYDANTIC_BOUNDS and node.get("type") in ("number", "integer"):
            out[_PYDANTIC_BOUNDS[key]] = value
        elif key == "title" and isinstance(value, str):
            continue
        else:
            out[key] = _normalise(value)
    return out


def _calc_schemas(schemas: dict, catalogue) -> None:
    """CalcIn mirrors service/calculator.resolve: `api` is prices or a catalogue model, `selfhost` figures or a
    catalogue plan. `workload` may be left out when the named plan states the workload its capacity was
    measured at, and `api` (or an empty `api`) when the named plan says which priced model it replaces."""
    by_provider: dict[str, list[str]] = {}
    for price in catalogue.models:
        by_provider.setdefault(price.provider, []).append(price.model)
    api_ref = schemas["ApiFromCatalogue"]
    api_ref["properties"].update(copy.deepcopy(schemas["ApiPrices"]["properties"]))
    api_ref["anyOf"] = [
        {
            "properties": {"provider": {"const": provider}, "model": {"enum": sorted(set(models))}},
            "required": ["model"] if provider == "groq" else ["provider", "model"],
        }
        for provider, models in sorted(by_provider.items())
    ]

    def replaces_priced(plan) -> bool:
        provider, _, model = (plan.replaces or "").partition("/")
        return bool(model) and catalogue.price_for(provider, model) is not None

    groups = {
        "PlanFromCatalogue": ([p.name for p in catalogue.plans], "A catalogue plan."),
        "PlanWithWorkload": (
            [p.name for p in catalogue.plans if p.workload is not None],
            "A catalogue plan that states the workload its capacity was measured at.",
        ),
        "PlanReplacingModel": (
            [p.name for p in catalogue.plans if replaces_priced(p)],
            "A catalogue plan that names the priced API model it replaces.",
        ),
        "PlanWithWorkloadReplacingModel": (
            [p.name for p in catalogue.plans if p.workload is not None and replaces_priced(p)],
            "A catalogue plan that states its workload and the priced API model it replaces.",
        ),
    }
    base = schemas["PlanFromCatalogue"]
    base["properties"].update(copy.deepcopy(schemas["SelfHostPlan"]["properties"]))
    for name, (plans, description) in groups.items():
        if not plans:
            continue
        schema = copy.deepcopy(base)
        schema["properties"]["plan"] = {"type": "string", "enum": sorted(plans)}
        schema["description"] = description + " Figures given beside the name override the plan's."
        schemas[name] = schema

    def ref(name: str) -> dict:
        return {"$ref": REF.format(model=name)}

    api = {"anyOf": [ref("ApiPrices"), ref("ApiFromCatalogue")]}
    api_or_empty = {"anyOf": [ref("ApiPrices"), ref("ApiFromCatalogue"), {"type": "object", "maxProperties": 0}]}
    variants: list[dict] = [
        {
            "required": ["api", "workload", "selfhost"],
            "properties": {"api": api, "selfhost": {"anyOf": [ref("SelfHostPlan"), ref("PlanFromCatalogue")]}},
        }
    ]
    if "PlanWithWorkload" in schemas:
        variants.append(
            {"required": ["api", "selfhost"], "properties": {"api": api, "selfhost": ref("PlanWithWorkload")}}
        )
    if "PlanReplacingModel" in schemas:
        variants.append(
            {
                "required": ["workload", "selfhost"],
                "properties": {"api": api_or_empty, "selfhost": ref("PlanReplacingModel")},
            }
        )
    if "PlanWithWorkloadReplacingModel" in schemas:
        variants.append(
            {
                "required": ["selfhost"],
                "properties": {"api": api_or_empty, "selfhost": ref("PlanWithWorkloadReplacingModel")},
            }
        )
    schemas["CalcIn"] = {
        "type": "object",
        "description": "What-if inputs (DESIGN.md section 1). Give figures, or name a catalogue model and plan.",
        "additionalProperties": False,
        "properties": {"api": {"type": "object"}, "workload": ref("Workload"), "selfhost": {"type": "object"}},
        "anyOf": variants,
    }


def _webhook_schema(schemas: dict) -> None:
    schemas["WebhookIn"]["examples"] = [
        {"url": "https://hooks.example.com/breakeven", "events": ["breakeven.reached"], "format": "standard"}
    ]
    url = schemas["WebhookIn"]["properties"]["url"]
    url.update(
        {
            "format": "uri",
            "pattern": "^https?://",
            "description": "http(s) URL of the receiver. Loopback, private, link-local and metadata addresses "
            "are refused unless the host is in BREAKEVEN_WEBHOOK_ALLOWED_HOSTS.",
        }
    )


def _component_schemas(catalogue) -> dict:
    request_models = [RunIn, RunBatchIn, WebhookIn, engine.ApiPrices, engine.Workload, engine.SelfHostPlan]
    response_models = [
        Error,
        RunResult,
        BatchResult,
        Usage,
        Status,
        StatusList,
        CalcResult,
        WebhookCreated,
        WebhookList,
        WebhookTest,
        AlertList,
        Health,
        Ready,
        Catalogue,
    ]
    _, defs = models_json_schema(
        [(m, "validation") for m in request_models]
        + [(m, "validation") for m in (ApiFromCatalogue, PlanFromCatalogue)]
        + [(m, "serialization") for m in response_models],
        ref_template=REF,
    )
    schemas = defs["$defs"]
    _calc_schemas(schemas, catalogue)
    _webhook_schema(schemas)
    schemas["RunResponse"] = {
        "anyOf": [{"$ref": REF.format(model="RunResult")}, {"$ref": REF.format(model="BatchResult")}]
    }
    schemas["StatusResponse"] = {
        "anyOf": [{"$ref": REF.format(model="Status")}, {"$ref": REF.format(model="StatusList")}]
    }
    return {name: _normalise(schema) for name, schema in sorted(schemas.items())}


def _summary(app: Flask, endpoint: str) -> tuple[str, str]:
    view = app.view_functions.get(endpoint)
    doc = (view.__doc__ or "").strip() if view else ""
    first, _, rest = doc.partition("\n")
    return first.strip(), " ".join(line.strip() for line in rest.splitlines()).strip()


def build(app: Flask) -> dict:
    """The OpenAPI document for this app (its catalogue decides the enums)."""
    from service.app_context import current

    ctx = current()
    paths: dict[str, dict] = {}
    for (path, method), op in _operations(ctx.catalogue, ctx.settings).items():
        summary, description = _summary(app, op["endpoint"])
        responses: dict[str, dict] = {}
        for status, (text, schema) in op["responses"].items():
            response: dict = {"description": text}
            if schema == "text":
                response["content"] = {"text/plain": {"schema": {"type": "string"}}}
            elif schema:
                response["content"] = {"application/json": {"schema": {"$ref": REF.format(model=schema)}}}
            if status in op["links"]:
                response["links"] = op["links"][status]
            responses[str(status)] = response
        for status in op["errors"]:
            responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
        operation: dict = {
            "operationId": op["endpoint"].replace(".", "_"),
            "summary": summary,
            "tags": op["tags"],
            "responses": dict(sorted(responses.items())),
        }
        if description:
            operation["description"] = description
        if op["params"]:
            operation["parameters"] = op["params"]
        if op["body"]:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": op["body"]}}}
        operation["security"] = [{"bearerAuth": []}] if op["secured"] else []
        paths.setdefault(path, {})[method] = operation

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Breakeven",
            "version": _version(),
            "summary": "Meter LLM runs from n8n on Groq and learn when self-hosting the same model pays off.",
            "description": "Every /v1 request needs `Authorization: Bearer <key>`. Full keys (BREAKEVEN_API_KEYS) "
            "may do anything; ingest keys (BREAKEVEN_INGEST_KEYS) may only POST /v1/runs. Every error has "
            'the shape `{"error": {"code", "message", "details"}}`.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": _component_schemas(ctx.catalogue),
            "responses": {
                str(status): {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
                }
                for status, text in ERRORS.items()
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A full key, or an ingest key for POST /v1/runs only.",
                }
            },
        },
        "security": [{"bearerAuth": []}],
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("breakeven")
    except PackageNotFoundError:
        return "0.0.0"


def document(app: Flask) -> dict:
    """Built once per app: the catalogue is read at start-up and does not change while the app runs."""
    if _CACHE_KEY not in app.extensions:
        app.extensions[_CACHE_KEY] = build(app)
    return app.extensions[_CACHE_KEY]


# ---- /docs: the document as a page, rendered on the server (no script, no CDN) ---------------------------


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(schema: dict | None) -> str:
    """A short human reading of a schema: `number, 0..1000000`, `RunIn or RunBatchIn`, `string (date) or null`."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for key, joiner in (("oneOf", " or "), ("anyOf", " or ")):
        if key in schema and "type" not in schema and "properties" not in schema:
            return joiner.join(type_text(branch) for branch in schema[key])
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if kind == "array":
        text = f"array of {type_text(schema.get('items'))}"
        if "maxItems" in schema:
            text += f" (at most {schema['maxItems']:,})"
        return text
    if "format" in schema:
        kind += f" ({schema['format']})"
    bounds = []
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None or high is not None:
        left = ">" if "exclusiveMinimum" in schema else ">="
        right = "<" if "exclusiveMaximum" in schema else "<="
        bounds.append(
            " and ".join(
                filter(
                    None,
                    [f"{left} {low:g}" if low is not None else "", f"{right} {high:g}" if high is not None else ""],
                )
            )
        )
    if "maxLength" in schema:
        bounds.append(f"{schema.get('minLength', 0)}..{schema['maxLength']} chars")
    return kind + (f", {', '.join(bounds)}" if bounds else "")


def schema_rows(schema: dict) -> list[dict]:
    """The properties of an object schema as table rows."""
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": type_text(prop),
            "required": name in required,
            "default": prop.get("default"),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


bp = Blueprint("openapi", __name__, template_folder="dashboard/templates")


@bp.get("/openapi.json")
def spec():
    """The OpenAPI 3.1 document."""
    return document(current_app)


@bp.get("/docs")
def docs():
    """The API reference as a page."""
    doc = document(current_app)
    operations = [
        {"method": method.upper(), "path": path, **op}
        for path, methods in doc["paths"].items()
        for method, op in methods.items()
    ]
    schemas = {
        name: {"schema": schema, "rows": schema_rows(schema), "type": type_text(schema)}
        for name, schema in doc["components"]["schemas"].items()
    }
    page = render_template(
        "docs.html",
        doc=doc,
        operations=operations,
        schemas=schemas,
        type_text=type_text,
        ref_name=_ref_name,
        anchor=lambda text: re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-"),
    )
    return page, {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
