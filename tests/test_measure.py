"""`breakeven measure` against a fake GPU server of known capacity, on loopback.

The fake's timings are scaled down ~100x from a real GPU (1 ms prefill per 100 prompt tokens, 10 ms per output
token) so that a whole sweep takes seconds; its capacity is slots / (prefill + decode x completion tokens).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.measure.cli import measure, resolve_workload
from service.measure.loadgen import MeasureError, percentile
from service.measure.planfile import PlanFileError, save_plan
from service.measure.synthetic import calibrate
from tests.fakes.gpu_server import GpuProfile, running_gpu_server

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-fake-gpu-key-5f2c9a"
PROMPT, COMPLETION = 1000, 10
STREAMING = GpuProfile(slots=4, prefill_per_token=0.00001, decode_per_token=0.010, api_key=KEY)
PLAIN = GpuProfile(slots=2, prefill_per_token=0.00001, decode_per_token=0.005, streaming=False)


@pytest.fixture(scope="module")
def gpu() -> Iterator[str]:
    with running_gpu_server(STREAMING) as url:
        yield url


@pytest.fixture(scope="module")
def plain_gpu() -> Iterator[str]:
    with running_gpu_server(PLAIN) as url:
        yield url


def run(*args: str, key: str | None = KEY, command=measure, env: dict | None = None):
    environment = {"BREAKEVEN_MEASURE_API_KEY": key, **(env or {})}
    return CliRunner().invoke(command, list(args), env=environment)


def sweep_args(url: str, *extra: str) -> list[str]:
    return ["--base-url", url, "--model", "fake-llama", "--prompt-tokens", str(PROMPT),
            "--completion-tokens", str(COMPLETION), *extra]


def test_capacity_is_within_ten_percent_of_the_fakes_theoretical_capacity(gpu):
    # A cap well past the plateau, so that stopping there is the sweep's own decision.
    result = run(*sweep_args(gpu, "--step-seconds", "1.5", "--max-concurrency", "64", "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    steps = data["steps"]
    assert data["streaming"] is True and data["usage_in_stream"] is True
    assert [s["concurrency"] for s in steps][:4] == [1, 2, 4, 8]
    # Four slots: throughput rises until concurrency 4, then queueing adds latency but no throughput.
    assert steps[2]["requests_per_second"] > 2.5 * steps[0]["requests_per_second"]
    assert "throughput stopped rising" in data["stop_reason"]

    capacity = data["capacity"]
    best = max(steps, key=lambda s: s["requests_per_second"])
    assert capacity["concurrency"] == best["concurrency"] >= 4
    # The fake counts tokens its own way (characters / 4); the calibrated prompts must still land on target.
    assert abs(best["mean_prompt_tokens"] - PROMPT) <= 0.03 * PROMPT
    assert best["mean_completion_tokens"] == COMPLETION
    theoretical = STREAMING.capacity(best["mean_prompt_tokens"], COMPLETION)
    assert abs(capacity["requests_per_second"] - theoretical) <= 0.10 * theoretical, (capacity, theoretical)

    service_time = STREAMING.service_time(PROMPT, COMPLETION)
    first = steps[0]
    assert first["latency_s"]["p50"] >= 0.97 * service_time  # nothing can be faster than the fake's schedule
    first_token = PROMPT * STREAMING.prefill_per_token + STREAMING.decode_per_token
    assert 0.9 * first_token <= first["ttft_s"]["p50"] < first["latency_s"]["p50"]
    assert KEY not in result.output


def test_server_without_streaming_is_measured_without_it(plain_gpu):
    args = sweep_args(plain_gpu, "--step-requests", "40", "--max-concurrency", "8", "--json")
    result = run(*args, key=None)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["streaming"] is False
    assert all(step["ttft_s"] is None for step in data["steps"])
    assert all(step["requests"] == 40 for step in data["steps"])
    assert any("does not stream" in note for note in data["notes"])
    best = max(data["steps"], key=lambda s: s["requests_per_second"])
    theoretical = PLAIN.capacity(best["mean_prompt_tokens"], COMPLETION)
    assert abs(data["capacity"]["requests_per_second"] - theoretical) <= 0.10 * theoretical


def test_latency_slo_picks_the_last_step_before_queueing(gpu):
    # Up to 4 concurrent requests each take ~0.11 s; at 8, every request first waits for a slot (~0.22 s).
    result = run(*sweep_args(gpu, "--step-seconds", "1", "--latency-slo", "0.2", "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    steps = {s["concurrency"]: s for s in data["steps"]}
    assert sorted(steps) == [1, 2, 4, 8]
    assert steps[8]["latency_s"]["p95"] > 0.2
    assert "SLO" in data["stop_reason"]
    assert data["capacity"]["concurrency"] == 4
    assert data["capacity"]["requests_per_second"] == steps[4]["requests_per_second"]
    assert data["capacity"]["p95_latency_s"] <= 0.2


def test_an_slo_no_step_meets_gives_no_capacity_and_saves_nothing(gpu, tmp_path):
    pricing = tmp_path / "pricing.toml"
    result = run(*sweep_args(gpu, "--step-requests", "4", "--latency-slo", "0.05", "--save-plan", "box",
                             "--gpu-hourly", "1", "--pricing-file", str(pricing)))
    assert result.exit_code == 1
    assert "capacity: not found: no complete step ran within the latency SLO" in result.stdout
    assert "plan not saved" in result.stderr
    assert not pricing.exists()


USER_PRICING = """\
# Our negotiated prices: keep this comment.
[[models]]
provider = "testcloud"
model = "test-70b"
input_per_m = 0.59
output_per_m = 0.79
as_of = "2026-11-01"
source = "contract"

[[plans]]
name = "other-plan"
replaces = "testcloud/test-70b"
gpu_hourly = 2.5
as_of = "2026-10-01"
source = "kept as is"

[[plans]]
name = "mybox"  # capacity not measured yet
replaces = "testcloud/test-70b"
gpu_hourly = 80.0
as_of = "2026-10-01"
source = "a guess"
"""


def calc(pricing: Path) -> dict:
    from service.cli import main

    result = run("calc", "--plan", "mybox", "--model", "testcloud/test-70b", "--prompt-tokens", str(PROMPT),
                 "--completion-tokens", str(COMPLETION), "--json", command=main,
                 env={"BREAKEVEN_PRICING_FILE": str(pricing)})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_saved_plan_turns_calcs_unchecked_verdict_into_never(gpu, tmp_path):
    """At $80/h (the fake is ~100x faster than a GPU, so its price is scaled up too) one replica costs $1,920
    a day. Unchecked, that breaks even at ~3.2M prompts/day; but the fake serves only ~36 req/s = ~2.5M
    prompts/day at 80% utilization, which would cost ~$1,500 on the API: self-hosting can never pay off."""
    from service.cli import main

    pricing = tmp_path / "pricing.toml"
    pricing.write_text(USER_PRICING)
    before = calc(pricing)
    assert before["verdict"] == "breaks_even"
    assert before["capacity_prompts_per_day"] is None
    unchecked_breakeven = 1920 / before["api_cost_per_prompt"]
    assert before["breakeven_prompts_per_day"] == pytest.approx(unchecked_breakeven, rel=1e-3)

    result = run("measure", *sweep_args(gpu, "--step-seconds", "1", "--max-concurrency", "8",
                                        "--provider", "testcloud", "--api-model", "test-70b",
                                        "--save-plan", "mybox", "--gpu-hourly", "80"),
                 command=main, env={"BREAKEVEN_PRICING_FILE": str(pricing)})
    assert result.exit_code == 0, result.output
    assert "<- capacity" in result.stdout
    assert f"replaced plan 'mybox' in {pricing}" in result.stdout

    text = pricing.read_text()
    assert text.startswith("# Our negotiated prices: keep this comment.\n")
    saved = tomllib.loads(text)
    plans = {p["name"]: p for p in saved["plans"]}
    assert plans["other-plan"] == {"name": "other-plan", "replaces": "testcloud/test-70b", "gpu_hourly": 2.5,
                                   "as_of": "2026-10-01", "source": "kept as is"}
    box = plans["mybox"]
    theoretical = STREAMING.capacity(PROMPT, COMPLETION)
    assert abs(box["requests_per_second"] - theoretical) <= 0.10 * theoretical
    assert box["replaces"] == "testcloud/test-70b"
    assert box["gpu_hourly"] == 80.0 and box["gpus_per_replica"] == 1
    assert abs(box["workload"]["prompt_tokens"] - PROMPT) <= 0.03 * PROMPT
    assert box["workload"]["completion_tokens"] == COMPLETION
    assert box["endpoint"] == gpu
    assert box["as_of"] == date.today().isoformat()
    assert box["measured"]["streaming"] is True and box["measured"]["concurrency"] >= 4
    assert [p["name"] for p in saved["plans"]] == ["other-plan", "mybox"]

    after = calc(pricing)
    assert after["verdict"] == "never"
    assert after["breakeven_prompts_per_day"] is None
    assert after["capacity_prompts_per_day"] == pytest.approx(box["requests_per_second"] * 86_400 * 0.8,
                                                             rel=1e-3)


def test_wrong_key_is_a_clear_authentication_error_that_does_not_echo_the_key(gpu):
    wrong = "sk-wrong-key-0123456789"
    result = run("--api-key", wrong, *sweep_args(gpu, "--step-requests", "2"), key=None)
    assert result.exit_code == 1
    assert f"authentication failed (HTTP 401) at {gpu}/chat/completions" in result.stderr
    assert wrong not in result.output


def test_unreachable_endpoint_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    result = run(*sweep_args(f"http://127.0.0.1:{port}/v1", "--step-requests", "2"))
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}/v1/chat/completions" in result.stderr


def test_ctrl_c_prints_what_was_measured_so_far(gpu):
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.measure",
         *sweep_args(gpu, "--step-seconds", "3", "--max-seconds", "60")],
        cwd=REPO, env={**os.environ, "BREAKEVEN_MEASURE_API_KEY": KEY},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    stderr: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr.append(line)
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the first step is done, then interrupt the second
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if re.match(r"concurrency 1: [\d.]+ req/s", line):
                break
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)  # not communicate(): the pump thread owns stderr
        assert proc.stdout is not None
        stdout = proc.stdout.read()  # a few lines: they fit in the pipe while the process runs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 130, "".join(stderr)
    assert "interrupted" in "".join(stderr)
    rows = {line.split()[0]: line for line in stdout.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d+", line)}
    assert set(rows) == {"1", "2"}
    assert rows["1"].endswith("<- capacity")
    assert rows["2"].endswith("cut off")
    assert "stopped: interrupted" in stdout


def test_bad_flags_are_named_before_any_request(tmp_path):
    nowhere = "http://127.0.0.1:9/v1"
    result = run(*sweep_args(nowhere, "--save-plan", "box"))
    assert result.exit_code == 2 and "--gpu-hourly" in result.stderr

    result = run(*sweep_args(nowhere, "--gpu-hourly", "2"))
    assert result.exit_code == 2 and "only used with --save-plan" in result.stderr

    result = run("--base-url", nowhere, "--model", "m", "--prompt-tokens", "0", "--completion-tokens", "5")
    assert result.exit_code == 2 and "--prompt-tokens" in result.stderr

    result = run(*sweep_args("ftp://example.org/v1"))
    assert result.exit_code == 1 and "--base-url must be an http(s) URL" in result.stderr

    broken = tmp_path / "pricing.toml"
    broken.write_text("[[plans]\nname = ")
    result = run(*sweep_args(nowhere, "--save-plan", "box", "--gpu-hourly", "2",
                             "--pricing-file", str(broken)))
    assert result.exit_code == 1
    assert f"--pricing-file {broken} is not valid TOML" in result.stderr
    assert "cannot reach" not in result.stderr
    assert broken.read_text() == "[[plans]\nname = "


def test_workload_comes_from_flags_else_the_ledger():
    def ledger(provider, model):
        assert (provider, model) == ("groq", "llama-3.3-70b-versatile")
        return {"prompt_tokens": 4812.4, "completion_tokens": 356.6, "cached_tokens": 0.0, "runs": 120,
                "window_days": 7}

    def unused(provider, model):
        pytest.fail("the ledger was read although both flags were given")

    assert resolve_workload(10, 20, "groq", "x", unused) == (10, 20, "from flags")
    prompt, completion, source = resolve_workload(None, None, "groq", "llama-3.3-70b-versatile", ledger)
    assert (prompt, completion) == (4812, 357)
    assert "120 runs" in source and "7 days" in source
    assert resolve_workload(None, 64, "groq", "llama-3.3-70b-versatile", ledger)[:2] == (4812, 64)

    with pytest.raises(MeasureError, match="pass --prompt-tokens and --completion-tokens"):
        resolve_workload(None, None, "groq", "m", lambda p, m: None)
    with pytest.raises(MeasureError, match="pass --completion-tokens"):
        resolve_workload(100, None, "groq", "m", lambda p, m: None)

    def broken(provider, model):
        raise RuntimeError("no such table: runs")

    with pytest.raises(MeasureError, match=r"cannot read the ledger .*\(RuntimeError\); pass --prompt"):
        resolve_workload(None, None, "groq", "m", broken)


def test_save_plan_creates_replaces_and_refuses_to_clobber(tmp_path):
    path = tmp_path / "pricing.toml"
    plan = {"name": "box", "gpu_hourly": 1.5, "requests_per_second": 2.0, "as_of": "2026-11-26",
            "source": "s", "workload": {"prompt_tokens": 100, "completion_tokens": 10},
            "measured": {"ttft_p95_s": None}}
    assert save_plan(path, plan) is False
    assert tomllib.loads(path.read_text())["plans"] == [{**plan, "measured": {}}]

    path.write_text('title = "mine"  # a comment\n\n[[plans]]\nname = "box"\ngpu_hourly = 9.0\n'
                    'as_of = "2026-01-01"\nsource = "old"\n\n[[plans]]\nname = "other"\ngpu_hourly = 1.0\n'
                    'as_of = "2026-01-01"\nsource = "o"\n')
    assert save_plan(path, {**plan, "requests_per_second": 3.0}) is True
    text = path.read_text()
    assert 'title = "mine"  # a comment' in text
    data = tomllib.loads(text)
    assert [(p["name"], p.get("requests_per_second")) for p in data["plans"]] == [
        ("box", 3.0), ("other", None)]
    assert sorted(os.listdir(tmp_path)) == ["pricing.toml"]  # no temporary file left behind

    path.write_text("plans = [1, 2]\n")
    with pytest.raises(PlanFileError, match="array of tables"):
        save_plan(path, plan)
    assert path.read_text() == "plans = [1, 2]\n"
    with pytest.raises(PlanFileError, match="does not exist"):
        save_plan(tmp_path / "missing" / "pricing.toml", plan)


@pytest.mark.parametrize("target", [20, 700, 5000, 32000])
def test_calibration_finds_the_word_count_for_a_target_token_count(target):
    import asyncio
    import math

    sent: list[int] = []

    async def count(words: int) -> int:
        # A tokenizer unlike one token per word: a 23-token template plus 1.37 tokens per word.
        sent.append(words)
        return 23 + math.ceil(1.37 * words)

    calibration = asyncio.run(calibrate(target, count))
    assert calibration.probes == len(sent) <= 5
    expected = max(1, round((target - 23) / 1.37))
    if target > 40:
        assert abs(calibration.measured_tokens - target) <= max(2, 0.01 * target)
        assert abs(calibration.words - expected) <= 2
        assert calibration.tokens_per_word == pytest.approx(1.37, abs=0.02)
    else:  # smaller than the template allows: as few words as possible, and the count says so
        assert calibration.words == 1 and calibration.measured_tokens == 25


def test_calibration_without_usage_assumes_one_token_per_word():
    import asyncio

    async def count(words: int) -> None:
        return None

    calibration = asyncio.run(calibrate(300, count))
    assert (calibration.words, calibration.measured_tokens, calibration.probes) == (300, None, 1)
    assert "no usage" in calibration.method


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile([0.2], 95) == 0.2
