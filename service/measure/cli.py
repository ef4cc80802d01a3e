"""`breakeven measure`: measure one replica's real capacity at the team's own workload."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click

from service.measure.loadgen import (
    Endpoint,
    MeasureError,
    SweepConfig,
    SweepResult,
    display_url,
    run_sweep,
)
from service.measure.planfile import PlanFileError, load
from service.measure.planfile import save_plan as write_plan
from service.measure.report import render

DEFAULT_STEP_SECONDS = 30.0
EXIT_INTERRUPTED = 130

Lookup = Callable[[str, str], "dict | None"]


def _ledger_workload(provider: str, model: str) -> dict | None:
    # Imported here so that measuring works (and is testable) without the ledger's database machinery.
    from service.config import Settings
    from service.usage import measured_workload

    return measured_workload(Settings(), provider, model)


def resolve_workload(prompt_tokens: int | None, completion_tokens: int | None, provider: str, model: str,
                     lookup: Lookup = _ledger_workload) -> tuple[int, int, str]:
    """Prompt and completion tokens per request: the flags, else the ledger's measured means for the model."""
    if prompt_tokens is not None and completion_tokens is not None:
        return prompt_tokens, completion_tokens, "from flags"
    flags = (("--prompt-tokens", prompt_tokens), ("--completion-tokens", completion_tokens))
    missing = " and ".join(flag for flag, value in flags if value is None)
    try:
        found = lookup(provider, model)
    except Exception as exc:  # the ledger is optional here; say what to do instead of a traceback
        raise MeasureError(
            f"cannot read the ledger for {provider}/{model} ({type(exc).__name__}); pass {missing}"
        ) from exc
    if not found or not found.get("runs"):
        raise MeasureError(
            f"the ledger has no recent runs of {provider}/{model} to take the workload from; pass {missing} "
            "(or --api-model, if the ledger knows the model by another name)"
        )
    if prompt_tokens is None:
        prompt_tokens = max(1, round(found["prompt_tokens"]))
    if completion_tokens is None:
        completion_tokens = max(1, round(found["completion_tokens"]))
    days = found.get("window_days", "?")
    return prompt_tokens, completion_tokens, f"ledger: mean of {found['runs']} runs of {provider}/{model} " \
        f"over {days} days"


def build_plan(name: str, result: SweepResult, replaces: str, gpu_hourly: float, gpus_per_replica: int,
               base_url: str, today: date) -> dict:
    """The `[[plans]]` entry for the measured capacity (see DESIGN.md section 4)."""
    cap = result.capacity
    if cap is None or cap.latency is None:
        raise MeasureError("nothing to save: no step qualified as capacity")
    cfg = result.config
    measured = {
        "concurrency": cap.concurrency,
        "requests": cap.ok,
        "p50_latency_s": round(cap.latency.p50, 4),
        "p95_latency_s": round(cap.latency.p95, 4),
        "ttft_p95_s": round(cap.ttft.p95, 4) if cap.ttft else None,
        "output_tokens_per_second": round(cap.output_tokens_per_second, 2),
        "streaming": result.streaming,
        "latency_slo_s": cfg.latency_slo,
        "served_model": result.model,
        "target_prompt_tokens": cfg.prompt_tokens,
        "target_completion_tokens": cfg.completion_tokens,
    }
    # The workload is what the server actually processed, as it counted it: that is what the rate is for.
    prompt = cfg.prompt_tokens if cap.mean_prompt_tokens is None else cap.mean_prompt_tokens
    completion = cfg.completion_tokens if cap.mean_completion_tokens is None else cap.mean_completion_tokens
    return {
        "name": name,
        "replaces": replaces,
        "gpu_hourly": gpu_hourly,
        "gpus_per_replica": gpus_per_replica,
        "requests_per_second": round(cap.requests_per_second, 4),
        "workload": {"prompt_tokens": round(prompt), "completion_tokens": round(completion)},
        "endpoint": display_url(base_url),
        "as_of": today.isoformat(),
        "source": f"breakeven measure: concurrency sweep with synthetic prompts, {cap.ok} requests "
                  f"at concurrency {cap.concurrency}",
        "measured": measured,
    }


async def _measure(endpoint: Endpoint, config: SweepConfig, progress: Callable[[str], None]) -> SweepResult:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        progress("interrupted: finishing with what was measured (Ctrl-C again to quit at once)")
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C falls through to Python's default

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        installed = False
    try:
        return await run_sweep(endpoint, config, progress, stop)
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


HELP = """Measure a self-hosted OpenAI-compatible endpoint's real capacity at your workload.

\b
Sends chat completions to BASE_URL/chat/completions (vLLM, llama.cpp server, Ollama, TGI, Groq...) with
synthetic prompts of your prompt length and max_tokens = your completion length, sweeping concurrency
1, 2, 4, ... until --max-concurrency, until throughput gains less than 5%, at the first errors, or when p95
latency passes --latency-slo. Each step runs --step-seconds (default 30) and/or --step-requests; each step
reports requests/s, output tokens/s, time to first token (when streaming) and latency p50/p95/p99.
Capacity is the highest requests/s of a step with no errors and p95 within the SLO.

\b
Token counting: no tokenizer is needed. Prompts are random common English words; a few one-token probe
requests read the server's own usage.prompt_tokens for known word counts and fit the word count that gives
--prompt-tokens (chat template included). Output tokens are the server's usage.completion_tokens.

\b
Without --prompt-tokens/--completion-tokens, the ledger's mean workload for --provider/--api-model is used.
--save-plan NAME --gpu-hourly X writes the result as a self-host plan into the pricing file, where
`breakeven calc --plan NAME` and the live status use it. Ctrl-C stops and prints what was measured so far.
"""


@click.command("measure", help=HELP)
@click.option("--base-url", required=True, metavar="URL",
              help="The OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1.")
@click.option("--api-key", envvar="BREAKEVEN_MEASURE_API_KEY", show_envvar=True, default=None, metavar="KEY",
              help="Bearer key for the endpoint, if it needs one. Never printed.")
@click.option("--model", required=True, help="The model name the endpoint serves.")
@click.option("--provider", default="groq", show_default=True,
              help="API provider of the model this server would replace (ledger look-up and plan).")
@click.option("--api-model", default=None, metavar="NAME",
              help="That API model's name, when it differs from --model (e.g. llama-3.3-70b-versatile).")
@click.option("--prompt-tokens", type=click.IntRange(1, 2_000_000), default=None,
              help="Prompt tokens per request (default: the ledger's measured mean).")
@click.option("--completion-tokens", type=click.IntRange(1, 1_000_000), default=None,
              help="Completion tokens per request (default: the ledger's measured mean).")
@click.option("--max-concurrency", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--step-seconds", type=click.FloatRange(0.1, 86_400), default=None,
              help=f"Length of each concurrency step [default: {DEFAULT_STEP_SECONDS:g} unless "
                   "--step-requests].")
@click.option("--step-requests", type=click.IntRange(1, 1_000_000), default=None,
              help="Requests per concurrency step (with --step-seconds, whichever ends first).")
@click.option("--max-requests", type=click.IntRange(1, 10_000_000), default=2000, show_default=True,
              help="Cap on all requests sent, probes included.")
@click.option("--max-seconds", type=click.FloatRange(1, 7 * 86_400), default=900.0, show_default=True,
              help="Cap on the whole run; requests still running then are abandoned.")
@click.option("--latency-slo", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="Highest acceptable p95 end-to-end latency (default: none, plain saturation).")
@click.option("--stream/--no-stream", default=None,
              help="Force streaming on or off [default: stream when the server supports it].")
@click.option("--ignore-eos", is_flag=True,
              help="Send ignore_eos (vLLM, llama.cpp) so every reply runs to --completion-tokens.")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=300.0, show_default=True,
              help="Per-request timeout in seconds.")
@click.option("--save-plan", default=None, metavar="NAME", help="Save the capacity as self-host plan NAME.")
@click.option("--gpu-hourly", type=click.FloatRange(0, min_open=True), default=None, metavar="USD",
              help="With --save-plan: USD per GPU-hour of the machine measured.")
@click.option("--gpus-per-replica", type=click.IntRange(1, 1024), default=None,
              help="With --save-plan: GPUs one replica uses [default: 1].")
@click.option("--pricing-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="BREAKEVEN_PRICING_FILE", show_envvar=True, default=Path("breakeven-pricing.toml"),
              show_default=True,
              help="The user pricing file --save-plan writes to.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def measure(ctx: click.Context, base_url: str, api_key: str | None, model: str, provider: str,
            api_model: str | None, prompt_tokens: int | None, completion_tokens: int | None,
            max_concurrency: int, step_seconds: float | None, step_requests: int | None, max_requests: int,
            max_seconds: float, latency_slo: float | None, stream: bool | None, ignore_eos: bool,
            timeout: float, save_plan: str | None, gpu_hourly: float | None, gpus_per_replica: int | None,
            pricing_file: Path, as_json: bool) -> None:
    if save_plan is not None:
        save_plan = save_plan.strip()
        if not save_plan or len(save_plan) > 100:
            raise click.BadParameter("give a plan name of 1 to 100 characters", param_hint="--save-plan")
        if gpu_hourly is None:
            raise click.BadParameter("--save-plan needs the GPU price: add --gpu-hourly USD",
                                     param_hint="--gpu-hourly")
        try:
            load(pricing_file)  # refuse an unreadable file now rather than after the whole sweep
        except PlanFileError as exc:
            raise click.ClickException(str(exc)) from exc
    elif gpu_hourly is not None or gpus_per_replica is not None:
        hint = "--gpu-hourly" if gpu_hourly is not None else "--gpus-per-replica"
        raise click.BadParameter("only used with --save-plan NAME", param_hint=hint)
    api_model = api_model or model

    def progress(message: str) -> None:
        click.echo(message, err=True)

    try:
        prompt, completion, source = resolve_workload(prompt_tokens, completion_tokens, provider, api_model)
        endpoint = Endpoint(base_url, model, api_key or None, timeout)
        config = SweepConfig(
            prompt_tokens=prompt,
            completion_tokens=completion,
            max_concurrency=max_concurrency,
            step_seconds=step_seconds if step_seconds is not None or step_requests is not None
            else DEFAULT_STEP_SECONDS,
            step_requests=step_requests,
            max_requests=max_requests,
            max_seconds=max_seconds,
            latency_slo=latency_slo,
            stream=stream,
            ignore_eos=ignore_eos,
        )
        progress(f"workload: {prompt} prompt + {completion} completion tokens ({source})")
        result = asyncio.run(_measure(endpoint, config, progress))
    except MeasureError as exc:
        raise click.ClickException(str(exc)) from exc

    saved: dict | None = None
    save_error: str | None = None
    if save_plan is not None:
        if result.interrupted:
            save_error = "plan not saved: the run was interrupted"
        elif result.capacity is None:
            save_error = "plan not saved: no step qualified as capacity"
        else:
            plan = build_plan(save_plan, result, f"{provider}/{api_model}", gpu_hourly or 0.0,
                              gpus_per_replica or 1, base_url, date.today())
            try:
                replaced = write_plan(pricing_file, plan)
            except PlanFileError as exc:
                save_error = f"plan not saved: {exc}"
            else:
                saved = {"name": save_plan, "file": str(pricing_file), "replaced": replaced, "plan": plan}

    if as_json:
        data = result.to_dict()
        data["workload"]["source"] = source
        data["saved_plan"] = saved
        if save_error:
            data["save_error"] = save_error
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(render(result, source))
        if saved:
            verb = "replaced plan" if saved["replaced"] else "saved plan"
            click.echo(f"{verb} {save_plan!r} in {pricing_file}: try `breakeven calc --plan {save_plan} "
                       f"--model {provider}/{api_model}`")

    if result.interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if save_error:
        raise click.ClickException(save_error)
    if not any(step.ok for step in result.steps):
        samples = [sample for step in result.steps for sample in step.error_samples]
        raise click.ClickException("no request succeeded during the sweep" + (
            f" (e.g. {samples[0]})" if samples else ""
        ))

