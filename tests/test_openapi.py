"""The OpenAPI document: complete, built from the request models, and true to what the service answers."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest

from service import create_app
from service.engine import ApiPrices, SelfHostPlan, Workload
from service.schemas import RunBatchIn, RunIn
from service.usage import UsageQuery
from tests.conftest import FULL, INGEST, make_settings
from tests.receiver import start_receiver

# Pages and files that are not part of the API.
NOT_API = {"/", "/docs", "/openapi.json", "/dashboard/vendor/chart.js"}
WORKED_EXAMPLE = {
    "api": {"input_per_m": 0.59, "output_per_m": 0},
    "workload": {"prompt_tokens": 5000, "completion_tokens": 0},
    "selfhost": {"gpu_hourly": 0.39},
}


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One app for the tests that only read: the document does not depend on the database."""
    tmp = tmp_path_factory.mktemp("openapi")
    app = create_app(make_settings(f"sqlite:///{tmp / 'breakeven.sqlite'}", tmp))
    yield app
    app.extensions["breakeven"].db.dispose()


@pytest.fixture(scope="module")
def shared(shared_app):
    return shared_app.test_client()


@pytest.fixture(scope="module")
def doc(shared) -> dict:
    response = shared.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def validator(doc: dict, schema: dict) -> jsonschema_rs.Draft202012Validator:
    """Validates against `schema`, whose $refs point into the document's components."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]}, validate_formats=True)


def component(doc: dict, name: str) -> jsonschema_rs.Draft202012Validator:
    return validator(doc, {"$ref": f"#/components/schemas/{name}"})


def response_validator(doc: dict, path: str, method: str, status: int) -> jsonschema_rs.Draft202012Validator:
    responses = doc["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not document {status}"
    response = responses[str(status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return validator(doc, response["content"]["application/json"]["schema"])


def assert_conforms(doc, path, method, response) -> None:
    check = response_validator(doc, path, method, response.status_code)
    body = response.get_json()
    errors = [f"{e.instance_path}: {e.message}" for e in check.iter_errors(body)]
    assert not errors, f"{method.upper()} {path} -> {response.status_code}: {errors[:5]}"


def test_openapi_31_with_every_route(shared_app, doc):
    app = shared_app
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static") or rule.rule in NOT_API:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert {path for path, _ in served if path.startswith("/v1/")} >= {
        "/v1/runs",
        "/v1/usage",
        "/v1/breakeven",
        "/v1/breakeven/calc",
        "/v1/webhooks",
        "/v1/webhooks/{webhook_id}",
        "/v1/webhooks/{webhook_id}/test",
        "/v1/alerts",
    }
    operation_ids = [op["operationId"] for methods in doc["paths"].values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))
    # Summaries come from the views' docstrings, so the page and the code say the same.
    assert doc["paths"]["/v1/runs"]["post"]["summary"].startswith("Log one run")


def test_request_schemas_are_the_validating_models(doc):
    schemas = doc["components"]["schemas"]
    for model in (RunIn, RunBatchIn, ApiPrices, Workload, SelfHostPlan):
        schema = schemas[model.__name__]
        assert set(schema["properties"]) == set(model.model_fields), model.__name__
        assert set(schema.get("required", [])) == {n for n, f in model.model_fields.items() if f.is_required()}
        assert schema["additionalProperties"] is False, "unknown fields are refused, so the schema says so"
    # Bounds that pydantic leaves as `ge`/`le` on validator-wrapped numbers become JSON Schema keywords.
    price = schemas["ApiPrices"]["properties"]["input_per_m"]
    assert (price["minimum"], price["maximum"]) == (0, 1e6) and "ge" not in price
    assert schemas["SelfHostPlan"]["properties"]["gpu_hourly"]["exclusiveMinimum"] == 0
    assert schemas["RunIn"]["properties"]["prompt_tokens"]["maximum"] == 10_000_000
    usage_params = {p["name"] for p in doc["paths"]["/v1/usage"]["get"]["parameters"]}
    assert usage_params == set(UsageQuery.model_fields)
    body = doc["paths"]["/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"oneOf": [{"$ref": "#/components/schemas/RunIn"}, {"$ref": "#/components/schemas/RunBatchIn"}]}


def test_bearer_auth_and_error_shape_are_described(doc):
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            open_probe = path in ("/healthz", "/readyz")
            assert op["security"] == ([] if open_probe else [{"bearerAuth": []}]), (method, path)
            if not open_probe:
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert response == {"$ref": f"#/components/responses/{status}"}
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(doc["components"]["schemas"]["ErrorBody"]["required"]) == {"code", "message", "details"}


def test_real_responses_conform_to_the_document(client, doc):
    """One real request per operation and status, each body checked against the schema documented for it."""
    run = {"id": "doc-1", "model": "llama-3.3-70b-versatile", "prompt_tokens": 5000, "completion_tokens": 500}
    cases = [
        ("/v1/runs", "post", client.post("/v1/runs", json=run, headers=INGEST)),
        ("/v1/runs", "post", client.post("/v1/runs", json=run, headers=INGEST)),  # duplicate: 200
        ("/v1/runs", "post", client.post("/v1/runs", json={**run, "prompt_tokens": 1}, headers=INGEST)),  # 409
        ("/v1/runs", "post", client.post("/v1/runs", json={"runs": [run, {**run, "id": "x"}]}, headers=INGEST)),
        ("/v1/runs", "post", client.post("/v1/runs", json={**run, "prompt": "text"}, headers=INGEST)),  # 422
        ("/v1/runs", "post", client.post("/v1/runs", data=b"{", headers=INGEST)),  # 400
        ("/v1/runs", "post", client.post("/v1/runs", json=run)),  # 401
        ("/v1/usage", "get", client.get("/v1/usage?group_by=day", headers=FULL)),
        ("/v1/usage", "get", client.get("/v1/usage?group_by=model", headers=FULL)),
        ("/v1/usage", "get", client.get("/v1/usage?group_by=workflow", headers=FULL)),
        ("/v1/usage", "get", client.get("/v1/usage", headers=INGEST)),  # 403
        ("/v1/breakeven", "get", client.get("/v1/breakeven", headers=FULL)),
        ("/v1/breakeven", "get", client.get("/v1/breakeven?model=llama-3.3-70b-versatile", headers=FULL)),
        ("/v1/breakeven", "get", client.get("/v1/breakeven?model=nope", headers=FULL)),  # 422
        ("/v1/breakeven/calc", "post", client.post("/v1/breakeven/calc", json=WORKED_EXAMPLE, headers=FULL)),
        ("/v1/alerts", "get", client.get("/v1/alerts", headers=FULL)),
        ("/v1/alerts", "get", client.get("/v1/alerts?limit=0", headers=FULL)),  # 422
        ("/v1/webhooks", "get", client.get("/v1/webhooks", headers=FULL)),
        ("/v1/catalogue", "get", client.get("/v1/catalogue", headers=FULL)),
        ("/healthz", "get", client.get("/healthz")),
        ("/readyz", "get", client.get("/readyz")),
    ]
    receiver = start_receiver()
    try:
        created = client.post("/v1/webhooks", json={"url": receiver.url}, headers=FULL)
        cases.append(("/v1/webhooks", "post", created))
        hook = created.get_json()["id"]
        cases.append(("/v1/webhooks/{webhook_id}/test", "post", client.post(f"/v1/webhooks/{hook}/test", headers=FULL)))
        cases.append(("/v1/alerts", "get", client.get("/v1/alerts", headers=FULL)))
        cases.append(("/v1/webhooks/{webhook_id}", "delete", client.delete(f"/v1/webhooks/{hook}", headers=FULL)))
        cases.append(("/v1/webhooks/{webhook_id}", "delete", client.delete(f"/v1/webhooks/{hook}", headers=FULL)))
    finally:
        receiver.close()

    statuses = [(path, method, response.status_code) for path, method, response in cases]
    assert ("/v1/runs", "post", 409) in statuses and ("/v1/webhooks/{webhook_id}", "delete", 404) in statuses
    assert cases[-3][2].get_json()["alerts"][0]["deliveries"][0]["status"] == "delivered"
    for path, method, response in cases:
        if response.status_code == 204:
            assert response.data == b""
            continue
        assert_conforms(doc, path, method, response)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (WORKED_EXAMPLE, True),
        ({**WORKED_EXAMPLE, "api": {"model": "llama-3.3-70b-versatile"}}, True),
        (
            {**WORKED_EXAMPLE, "api": {"provider": "deepinfra", "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo"}},
            True,
        ),
        ({"api": {"model": "llama-3.3-70b-versatile"}, "selfhost": {"plan": "llama-3.3-70b-on-a40"}}, True),
        ({"selfhost": {"plan": "llama-3.3-70b-on-a40", "gpu_hourly": 0.5}}, True),
        ({"api": {}, "selfhost": {"plan": "llama-3.3-70b-on-a40"}}, True),
        ({"api": WORKED_EXAMPLE["api"], "selfhost": WORKED_EXAMPLE["selfhost"]}, False),
        ({**WORKED_EXAMPLE, "api": {"model": "no-such-model"}}, False),
        ({**WORKED_EXAMPLE, "api": {"provider": "deepinfra", "model": "llama-3.3-70b-versatile"}}, False),
        ({**WORKED_EXAMPLE, "selfhost": {"plan": "no-such-plan"}}, False),
        ({**WORKED_EXAMPLE, "api": {"input_per_m": -1, "output_per_m": 0}}, False),
        ({**WORKED_EXAMPLE, "extra": 1}, False),
        ({"workload": WORKED_EXAMPLE["workload"], "selfhost": WORKED_EXAMPLE["selfhost"]}, False),
    ],
)
def test_calc_schema_accepts_exactly_what_the_calculator_accepts(shared, doc, body, valid):
    """The CalcIn schema is hand-assembled around the pydantic models, so it is held to the real endpoint."""
    assert component(doc, "CalcIn").is_valid(body) is valid
    response = shared.post("/v1/breakeven/calc", json=body, headers=FULL)
    assert response.status_code == (200 if valid else 422), response.get_json()
    assert_conforms(doc, "/v1/breakeven/calc", "post", response)


def test_worked_example_through_the_documented_body(shared):
    result = shared.post("/v1/breakeven/calc", json=WORKED_EXAMPLE, headers=FULL).get_json()
    assert result["breakeven_prompts_per_day_rounded"] == 3173


def test_catalogue_names_are_enums_of_this_servers_catalogue(shared_app, doc):
    catalogue = shared_app.extensions["breakeven"].catalogue
    model_param = next(p for p in doc["paths"]["/v1/breakeven"]["get"]["parameters"] if p["name"] == "model")
    assert set(model_param["schema"]["enum"]) == {"", *(m.model for m in catalogue.models)}
    plans = doc["components"]["schemas"]["PlanFromCatalogue"]["properties"]["plan"]["enum"]
    assert plans == sorted(p.name for p in catalogue.plans)


def test_docs_page_renders_every_operation_without_outside_resources(shared, doc):
    response = shared.get("/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for path, methods in doc["paths"].items():
        for method in methods:
            assert f"{method.upper()}</span> {path}" in page
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must work offline"
    assert "RunIn" in page and "prompt_tokens" in page and "Authorization: Bearer" in page


def test_openapi_and_docs_need_no_key(shared):
    assert shared.get("/openapi.json").status_code == 200
    assert shared.get("/docs").status_code == 200
