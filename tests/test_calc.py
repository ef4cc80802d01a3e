"""What-if calculation through the HTTP API and the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.conftest import FULL, INGEST

WORKED = {
    "api": {"input_per_m": 0.59, "output_per_m": 0},
    "workload": {"prompt_tokens": 5000, "completion_tokens": 0},
    "selfhost": {"gpu_hourly": 0.39},
}


def test_api_reproduces_the_worked_example(client):
    body = client.post("/v1/breakeven/calc", json=WORKED, headers=FULL).get_json()
    assert body["api_cost_per_prompt"] == pytest.approx(0.00295)
    assert body["breakeven_prompts_per_day"] == pytest.approx(3172.88, abs=0.01)
    assert body["breakeven_prompts_per_day_rounded"] == 3173
    assert body["replica_cost_per_day"] == pytest.approx(9.36)
    assert body["selfhost_cost_per_month"] == pytest.approx(280.80)
    assert body["verdict"] == "breaks_even"
    assert "Capacity unchecked" in body["summary"]


def test_api_with_output_tokens(client):
    body = {**WORKED, "api": {"input_per_m": 0.59, "output_per_m": 0.79},
            "workload": {"prompt_tokens": 5000, "completion_tokens": 500}}
    result = client.post("/v1/breakeven/calc", json=body, headers=FULL).get_json()
    assert result["api_cost_per_prompt"] == pytest.approx(0.003345)
    assert result["breakeven_prompts_per_day_rounded"] == 2798


def test_api_names_model_and_plan_from_the_catalogue_with_sources(client):
    body = {"api": {"provider": "groq", "model": "llama-3.3-70b-versatile"},
            "selfhost": {"plan": "llama-3.3-70b-on-a40"}}
    result = client.post("/v1/breakeven/calc", json=body, headers=FULL).get_json()
    assert result["capacity_prompts_per_day"] == pytest.approx(0.05 * 86400 * 0.8)
    assert result["inputs"]["sources"]["api"]["source"].startswith("https://")
    assert result["inputs"]["sources"]["selfhost"]["plan"] == "llama-3.3-70b-on-a40"
    assert result["inputs"]["workload"]["prompt_tokens"] == 5000


def test_a_provider_that_never_pays_off(client):
    body = {"api": {"provider": "groq", "model": "llama-3.1-8b-instant"},
            "workload": {"prompt_tokens": 5000, "completion_tokens": 500},
            "selfhost": {"plan": "llama-3.3-70b-on-a40"}}
    result = client.post("/v1/breakeven/calc", json=body, headers=FULL).get_json()
    assert result["verdict"] == "never"
    assert result["breakeven_prompts_per_day"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({**WORKED, "api": {"input_per_m": -1, "output_per_m": 0}}, "api.input_per_m"),
    ({**WORKED, "workload": {"prompt_tokens": 10, "cached_tokens": 20, "completion_tokens": 0}},
     "workload.cached_tokens"),
    ({**WORKED, "selfhost": {"gpu_hourly": 0.39, "max_utilization": 2}}, "selfhost.max_utilization"),
    ({**WORKED, "selfhost": {"plan": "nope"}}, "selfhost.plan"),
    ({**WORKED, "api": {"model": "not-in-catalogue"}}, "api.model"),
    ({"api": WORKED["api"], "selfhost": {"gpu_hourly": 1}}, "workload"),
    ({**WORKED, "extra": 1}, "extra"),
    ({**WORKED, "api": "cheap"}, "api"),
])
def test_api_bad_input_names_the_field(client, body, field):
    response = client.post("/v1/breakeven/calc", json=body, headers=FULL)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == field


def test_calc_needs_a_full_key(client):
    assert client.post("/v1/breakeven/calc", json=WORKED, headers=INGEST).status_code == 403


def test_cli_table_names_assumptions_and_unchecked_capacity(settings, monkeypatch):
    monkeypatch.setenv("BREAKEVEN_PRICING_FILE", str(settings.pricing_file))
    result = CliRunner().invoke(main, ["calc", "--input-per-m", "0.59", "--output-per-m", "0", "--prompt-tokens",
                                       "5000", "--completion-tokens", "0", "--gpu-hourly", "0.39"])
    assert result.exit_code == 0, result.output
    assert "3,172.9 prompts/day (3,173 rounded)" in result.output
    assert "$280.80/month" in result.output
    assert "Capacity is NOT checked" in result.output
    assert "Assumptions:" in result.output


def test_cli_json_from_catalogue(settings, monkeypatch):
    monkeypatch.setenv("BREAKEVEN_PRICING_FILE", str(settings.pricing_file))
    result = CliRunner().invoke(main, ["calc", "--model", "groq/llama-3.3-70b-versatile", "--plan",
                                       "llama-3.3-70b-on-a40", "--prompt-tokens", "5000", "--completion-tokens",
                                       "500", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["breakeven_prompts_per_day_rounded"] == 2798
    assert data["replicas"] == 1


def test_cli_bad_flag_value_is_a_clear_error(settings, monkeypatch):
    monkeypatch.setenv("BREAKEVEN_PRICING_FILE", str(settings.pricing_file))
    result = CliRunner().invoke(main, ["calc", "--input-per-m", "1", "--output-per-m", "1", "--prompt-tokens",
                                       "1", "--completion-tokens", "1", "--gpu-hourly", "-1"])
    assert result.exit_code != 0
    assert "--gpu-hourly" in result.output


def test_cli_plan_alone_compares_against_the_model_it_replaces(settings, monkeypatch):
    monkeypatch.setenv("BREAKEVEN_PRICING_FILE", str(settings.pricing_file))
    result = CliRunner().invoke(main, ["calc", "--plan", "llama-3.3-70b-on-a40", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["inputs"]["sources"]["api"]["model"] == "llama-3.3-70b-versatile"
    assert data["inputs"]["workload"]["completion_tokens"] == 500
