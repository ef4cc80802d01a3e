"""The command line a newcomer meets: help, prices, db upgrade, the first-run key, configuration errors."""

from __future__ import annotations

import os
import stat

import pytest
import requests
from click.testing import CliRunner

from service.cli import main
from tests.conftest import LiveServer, service_env


@pytest.mark.parametrize("command", [[], ["serve"], ["web"], ["scheduler"], ["check"], ["calc"], ["prices"],
                                     ["db", "upgrade"]])
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    described = result.output.split("Options:")[0].split("\n", 2)[-1]
    assert len(described.strip()) > 20, result.output


def test_prices_lists_catalogue_with_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("BREAKEVEN_PRICING_FILE", str(tmp_path / "none.toml"))
    result = CliRunner().invoke(main, ["prices"])
    assert result.exit_code == 0
    assert "llama-3.3-70b-versatile" in result.output and "https://groq.com/pricing/" in result.output
    assert "runpod/A40" in result.output and "llama-3.3-70b-on-a40" in result.output


def test_prices_reports_a_broken_user_file(tmp_path, monkeypatch):
    broken = tmp_path / "pricing.toml"
    broken.write_text("[[models]\n")
    monkeypatch.setenv("BREAKEVEN_PRICING_FILE", str(broken))
    result = CliRunner().invoke(main, ["prices"])
    assert result.exit_code == 1
    assert "not valid TOML" in result.output


def test_db_upgrade(tmp_path, monkeypatch):
    monkeypatch.setenv("BREAKEVEN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0
    assert "revision 0001" in result.output


def test_bad_configuration_names_the_variable_without_its_value(monkeypatch):
    monkeypatch.setenv("BREAKEVEN_ALERT_WEBHOOK_SECRET", "not-a-secret-format-hunter2")
    result = CliRunner().invoke(main, ["prices"])
    assert result.exit_code == 1
    assert "BREAKEVEN_ALERT_WEBHOOK_SECRET" in result.output
    assert "hunter2" not in result.output


def test_first_start_without_keys_generates_one_printed_once(tmp_path):
    env = service_env({"BREAKEVEN_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    server = LiveServer(env, tmp_path, workers=1).start()
    try:
        key_file = tmp_path / "breakeven-api-key"
        key = key_file.read_text().strip()
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert key in server.log_path.read_text()
        assert requests.get(server.url + "/v1/usage", timeout=5).status_code == 401
        ok = requests.get(server.url + "/v1/usage", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert ok.status_code == 200
    finally:
        server.stop()
    again = LiveServer(env, tmp_path, workers=1).start()
    try:
        assert server.log_path.read_text().count(key) == 1 and key not in again.log_path.read_text()
        assert "Using the API key stored in" in again.log_path.read_text()
    finally:
        again.stop()
