"""Single-run ingest through `breakeven serve` on loopback, next to the same server's /healthz in the same run.

Goals: >= 1,500 runs/s, and ingest at >= 60% of /healthz's rate. Load comes from wrk (Debian package), which
costs far less CPU than a Python client on the same two cores.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from tests.conftest import FULL_KEY, INGEST_KEY, LiveServer, settings_env

DURATION = "10s"
CONNECTIONS = 32
POST_SCRIPT = """
counter = 0
local thread_id = 0
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"id":"wrk-%s-%d","model":"llama-3.3-70b-versatile","prompt_tokens":%d,"completion_tokens":%d}',
    tid, counter, 1000 + counter % 4000, counter % 500)
  return wrk.format("POST", "/v1/runs", {["Content-Type"]="application/json",
                    ["Authorization"]="Bearer __KEY__"}, body)
end
"""


def wrk(url: str, script: Path | None) -> dict:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def percentile(label: str) -> float:
        value, unit = re.search(rf"\s{label}\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rate": rate,
        "p50": percentile("50%"),
        "p99": percentile("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def run() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    script = folder / "post.lua"
    script.write_text(POST_SCRIPT.replace("__KEY__", INGEST_KEY))
    env = settings_env(f"sqlite:///{folder / 'ingest.sqlite'}", folder)
    server = LiveServer(env, folder, command="serve").start()
    try:
        health = wrk(server.url + "/healthz", None)
        ingest = wrk(server.url + "/v1/runs", script)
        stored = requests.get(
            server.url + "/v1/usage", headers={"Authorization": f"Bearer {FULL_KEY}"}, timeout=30
        ).json()["totals"]["prompts"]
    finally:
        server.stop()
    print(f"/healthz:      {health['rate']:8.0f} req/s  p50 {health['p50']:6.2f} ms  p99 {health['p99']:6.2f} ms")
    print(
        f"POST /v1/runs: {ingest['rate']:8.0f} runs/s p50 {ingest['p50']:6.2f} ms  p99 {ingest['p99']:6.2f} ms"
        f"  (non-2xx: {ingest['errors']}, stored: {stored:,})"
    )
    print(f"ingest / healthz: {ingest['rate'] / health['rate']:.0%} (goal >= 60%); goal >= 1,500 runs/s")
