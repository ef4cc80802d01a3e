"""Schemathesis against a live server (two gunicorn workers) with every check on every operation.

Generated from /openapi.json: no 5xx, responses and status codes as documented, auth enforced (requests without
the key must be refused), schema-violating input refused, schema-valid input accepted (with the exceptions in
tests/schemathesis.toml, each with its reason), and the webhook links followed statefully. The run's output is
kept in test-artifacts/schemathesis.txt with the number of cases it ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FULL_KEY, LiveServer, settings_env

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Enough to cover every operation in every phase in about half a minute on two cores; raise it locally
# (SCHEMATHESIS_MAX_EXAMPLES=200) for a deeper search.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261126")


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path, record_property):
    # hooks.example.com is the documented example receiver: allowed here so that created webhooks exist for
    # the stateful phase (delete, send a test alert) without resolving it.
    env = settings_env(
        f"sqlite:///{tmp_path / 'breakeven.sqlite'}",
        tmp_path,
        BREAKEVEN_WEBHOOK_ALLOWED_HOSTS="127.0.0.1,localhost,hooks.example.com",
        BREAKEVEN_WEBHOOK_TIMEOUT="2",
    )
    server = LiveServer(env, tmp_path, workers=2).start()
    try:
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "--config-file",
                str(CONFIG),
                "--no-color",
                "run",
                server.url + "/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {FULL_KEY}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                SEED,
                "--request-timeout",
                "30",
                "--output-sanitize",
                "false",
            ],
            cwd=tmp_path,
            env={**env, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.stop()
    output = result.stdout + result.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "schemathesis.txt").write_text(output)
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert result.returncode == 0 and counts, output[-6000:]
    cases, passed = int(counts[1]), int(counts[2])
    record_property("schemathesis_cases", cases)
    print(f"schemathesis: {cases} cases, {passed} passed, {tested[1] if tested else '?'} operations")
    assert cases == passed and cases > 300
    assert tested and int(tested[1]) >= 13, "every operation was tested"
