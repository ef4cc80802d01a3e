"""The dashboard page and its assets, and the catalogue endpoint that feeds its calculator.

How it looks and behaves in a browser is tested in tests/browser/ (real Chromium)."""

from __future__ import annotations

import re

import pytest

import service.dashboard as dashboard
from service import create_app
from tests.conftest import FULL, INGEST, make_settings


@pytest.fixture
def database_url(sqlite_url):
    # The page and the catalogue do not touch the ledger's queries that differ between databases.
    return sqlite_url


def test_page_needs_no_key_and_carries_no_data(client):
    run = {"id": "secret-run", "model": "my-private-model", "prompt_tokens": 123456, "completion_tokens": 7}
    assert client.post("/v1/runs", json=run, headers=INGEST).status_code == 201
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "my-private-model" not in page and "123456" not in page
    assert 'id="key-form"' in page and 'id="calc-form"' in page


def test_page_loads_only_its_own_assets_under_a_strict_policy(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    page = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert assets, "the page references its scripts and styles"
    for asset in assets:
        assert asset.startswith(("/", "data:")), f"{asset} is not served by this service"
        if asset.startswith(("/dashboard/", "/docs", "/openapi.json")):
            with client.get(asset) as served:  # closed: static files are streamed from disk
                assert served.status_code == 200, asset
    assert "<script>" not in page, "no inline script: the policy forbids it"


def test_chart_library_is_served_from_the_npm_install(client):
    if not dashboard.CHART_JS.is_file():
        pytest.fail(f"{dashboard.CHART_JS} missing: run `npm ci` in service/dashboard (part of `make install`)")
    with client.get("/dashboard/vendor/chart.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert b"Chart" in response.data[:2000]
    assert '<script src="/dashboard/vendor/chart.js">' in client.get("/").get_data(as_text=True)


def test_missing_chart_library_degrades_with_a_clear_message(client, monkeypatch, tmp_path):
    monkeypatch.setattr(dashboard, "CHART_JS", tmp_path / "absent.js")
    page = client.get("/").get_data(as_text=True)
    assert "Charts unavailable" in page and "npm ci" in page
    assert "/dashboard/vendor/chart.js" not in page, "no request that would fail on the console"
    response = client.get("/dashboard/vendor/chart.js")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_installed"
    assert "make install" in response.get_json()["error"]["message"]


def test_the_key_is_kept_for_the_tab_only(client):
    with client.get("/dashboard/static/dashboard.js") as response:
        script = response.get_data(as_text=True)
    assert "sessionStorage" in script and "localStorage" not in script and "document.cookie" not in script
    # Text from the API is set as text, never parsed as HTML.
    assert "innerHTML" not in script


def test_catalogue_needs_a_full_key(client):
    assert client.get("/v1/catalogue").status_code == 401
    assert client.get("/v1/catalogue", headers=INGEST).status_code == 403


def test_catalogue_lists_prices_plans_and_thresholds_with_sources(database_url, tmp_path):
    (tmp_path / "pricing.toml").write_text(
        '[[plans]]\nname = "mine"\nreplaces = "groq/openai/gpt-oss-20b"\ngpu_hourly = 0.5\n'
        'as_of = "2026-11-01"\nsource = "our invoice"\n'
    )
    app = create_app(make_settings(database_url, tmp_path, warn_ratio=0.7, plan="mine"))
    try:
        body = app.test_client().get("/v1/catalogue", headers=FULL).get_json()
    finally:
        app.extensions["breakeven"].db.dispose()
    groq70 = next(m for m in body["models"] if m["model"] == "llama-3.3-70b-versatile")
    assert (groq70["input_per_m"], groq70["output_per_m"]) == (0.59, 0.79)
    assert groq70["source"] == "https://groq.com/pricing/" and groq70["as_of"] == "2026-09-01"
    assert groq70["plan"] == "llama-3.3-70b-on-a40"
    assert next(m for m in body["models"] if m["model"] == "openai/gpt-oss-20b")["plan"] == "mine"
    a40 = next(p for p in body["plans"] if p["name"] == "llama-3.3-70b-on-a40")
    assert a40["gpu_hourly"] == 0.39 and a40["gpu"] == "runpod/A40"
    assert a40["workload"] == {"prompt_tokens": 5000, "completion_tokens": 500}
    mine = next(p for p in body["plans"] if p["name"] == "mine")
    assert (mine["gpu_hourly"], mine["source"]) == (0.5, "our invoice")
    assert all(g["source"] and g["as_of"] for g in body["gpus"])
    assert body["thresholds"] == {
        "warn_ratio": 0.7,
        "forecast_horizon_days": 14,
        "window_days": 7,
        "timezone": "UTC",
        "plan": "mine",
    }
