"""The `breakeven` command line."""

from __future__ import annotations

import json
import sys

import click

from service.config import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        # Rebuilt without the offending values: one of them may be a key or a webhook secret.
        problems = "; ".join(
            f"BREAKEVEN_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise click.ClickException(f"configuration error: {problems}") from None


def _ensure_key(settings: Settings) -> None:
    """The embedded default must not run open: without configured keys, a key is generated once and kept in
    the key file, and printed only when it is created."""
    from service.auth import read_or_create_key_file

    if settings.api_keys or settings.ingest_keys:
        return
    key, created = read_or_create_key_file(settings.api_key_file)
    if created:
        click.echo(
            f"Generated an API key (full access), saved to {settings.api_key_file} (mode 600):\n\n    {key}\n\n"
            "Send it as 'Authorization: Bearer <key>'. Set BREAKEVEN_API_KEYS to use your own keys instead.",
            err=True,
        )
    else:
        click.echo(f"Using the API key stored in {settings.api_key_file}.", err=True)


def _upgrade(settings: Settings) -> None:
    from service.db import Database
    from service.migrate import upgrade

    db = Database(settings.database_url)
    try:
        upgrade(db, settings.tz)
    finally:
        db.dispose()


def _run_gunicorn(settings: Settings, host: str, port: int, workers: int, threads: int, hooks: dict) -> None:
    from service import create_app
    from service.server import GunicornServer, gunicorn_options

    _ensure_key(settings)
    _upgrade(settings)
    options = gunicorn_options(host, port, workers, threads, **hooks)
    GunicornServer(create_app, options).run()


server_options = [
    click.option(
        "--host",
        default=DEFAULT_HOST,
        show_default=True,
        help="Address to listen on. Use 0.0.0.0 only behind a firewall or proxy.",
    ),
    click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535)),
    click.option(
        "--workers",
        default=2,
        show_default=True,
        type=click.IntRange(1, 64),
        help="Worker processes (one per core is a good start).",
    ),
    click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Threads per worker."),
]


def with_server_options(func):
    for option in reversed(server_options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Breakeven: meter your LLM runs and learn when self-hosting the same model pays off.

    Configuration comes from BREAKEVEN_* environment variables (see the README); the embedded default
    stores everything in ./breakeven.sqlite.

    \b
    Start here:
      breakeven serve            run the service with its alert scheduler (SQLite default)
      breakeven calc --help      what-if break-even calculation
      breakeven prices           the pricing catalogue in use
    """


@main.command()
@with_server_options
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the web API and the alert scheduler together: the embedded default.

    Upgrades the database first. Without BREAKEVEN_API_KEYS, a key is generated on first start, saved to
    ./breakeven-api-key and printed once.
    """
    settings = _settings()
    from service.scheduler import gunicorn_hooks

    _run_gunicorn(settings, host, port, workers, threads, gunicorn_hooks(settings))


@main.command()
@with_server_options
def web(host: str, port: int, workers: int, threads: int) -> None:
    """Run only the web API (gunicorn), for deployments with a separate `breakeven scheduler`."""
    _run_gunicorn(_settings(), host, port, workers, threads, {})


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest revision (keeps every row). Safe to run repeatedly."""
    from service.db import Database
    from service.migrate import current_revision

    settings = _settings()
    _upgrade(settings)
    database = Database(settings.database_url)
    try:
        click.echo(f"database at revision {current_revision(database)}")
    finally:
        database.dispose()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def prices(as_json: bool) -> None:
    """List the pricing catalogue: API prices, GPU prices and self-host plans, with sources and dates."""
    from service.pricing import CatalogueError, load_catalogue

    settings = _settings()
    try:
        catalogue = load_catalogue(settings.pricing_file)
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(
            json.dumps(
                {
                    "models": [m.model_dump(mode="json") for m in catalogue.models],
                    "gpus": [g.model_dump(mode="json") for g in catalogue.gpus],
                    "plans": [p.model_dump(mode="json") for p in catalogue.plans],
                },
                indent=2,
            )
        )
        return
    from service.tables import render_table

    click.echo("API models (USD per million tokens)")
    click.echo(
        render_table(
            ["provider/model", "input", "cached", "output", "retired", "as of", "source"],
            [
                [
                    m.key,
                    f"{m.input_per_m:g}",
                    f"{m.cached_input_per_m:g}" if m.cached_input_per_m is not None else "-",
                    f"{m.output_per_m:g}",
                    str(m.retired or "-"),
                    str(m.as_of),
                    m.source,
                ]
                for m in catalogue.models
            ],
        )
    )
    click.echo("\nGPUs (USD per GPU-hour)")
    click.echo(
        render_table(
            ["provider/gpu", "hourly", "VRAM GB", "as of", "source"],
            [
                [g.key, f"{g.hourly:g}", f"{g.vram_gb:g}" if g.vram_gb else "-", str(g.as_of), g.source]
                for g in catalogue.gpus
            ],
        )
    )
    click.echo("\nSelf-host plans")
    click.echo(
        render_table(
            ["plan", "replaces", "gpu", "GPUs", "req/s", "as of", "source"],
            [
                [
                    p.name,
                    p.replaces or "-",
                    p.gpu or f"${p.gpu_hourly:g}/h",
                    str(p.gpus_per_replica),
                    f"{p.requests_per_second:g}" if p.requests_per_second else "unmeasured",
                    str(p.as_of),
                    p.source,
                ]
                for p in catalogue.plans
            ],
        )
    )
    if settings.pricing_file.exists():
        click.echo(f"\n(merged with {settings.pricing_file})")


_CALC_FLAGS = {
    "api": ["input_per_m", "output_per_m", "cached_input_per_m", "batch_discount"],
    "workload": ["prompt_tokens", "cached_tokens", "completion_tokens", "peak_to_average"],
    "selfhost": ["gpu_hourly", "gpus_per_replica", "requests_per_second", "max_utilization", "ops_per_day"],
}
_CALC_HELP = {
    "input_per_m": "API price of input tokens, USD per million.",
    "output_per_m": "API price of output tokens, USD per million.",
    "cached_input_per_m": "API price of cached input tokens (default: the input price).",
    "batch_discount": "Discount on the API bill, 0..1 (e.g. 0.5 for Groq's batch API).",
    "prompt_tokens": "Mean input tokens per prompt, cached included.",
    "cached_tokens": "Mean cached input tokens per prompt.",
    "completion_tokens": "Mean output tokens per prompt.",
    "peak_to_average": "Peak traffic over average traffic (>= 1); capacity is kept for the peak.",
    "gpu_hourly": "USD per GPU-hour of the rented GPU (always on).",
    "gpus_per_replica": "GPUs one model replica needs.",
    "requests_per_second": "One replica's sustained requests/s at this workload (measure it: breakeven measure).",
    "max_utilization": "Highest share of capacity to plan on, 0..1.",
    "ops_per_day": "Fixed USD per day for running it yourself (monitoring, engineer time).",
}


def _calc_options(func):
    for part in reversed(list(_CALC_FLAGS)):
        for name in reversed(_CALC_FLAGS[part]):
            kind = int if name == "gpus_per_replica" else float
            func = click.option(f"--{name.replace('_', '-')}", name, type=kind, default=None, help=_CALC_HELP[name])(
                func
            )
    return func


@main.command()
@click.option(
    "--model",
    "model_ref",
    metavar="PROVIDER/MODEL",
    help="Fill the API prices from the catalogue, e.g. groq/llama-3.3-70b-versatile.",
)
@click.option("--plan", "plan_name", metavar="NAME", help="Fill the self-host figures from a catalogue plan.")
@_calc_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def calc(model_ref: str | None, plan_name: str | None, as_json: bool, **figures) -> None:
    """What-if break-even: at how many prompts a day does a rented GPU beat the API?

    \b
    The worked example (Groq at $0.59/M, 5,000-token prompts, an A40 at $0.39/h):
      breakeven calc --input-per-m 0.59 --output-per-m 0 --prompt-tokens 5000 \\
                     --completion-tokens 0 --gpu-hourly 0.39
    From the catalogue, with your own prompt sizes:
      breakeven calc --model groq/llama-3.3-70b-versatile --plan llama-3.3-70b-on-a40 \\
                     --prompt-tokens 3000 --completion-tokens 400
    """
    from service.calculator import calculate
    from service.errors import ApiError
    from service.pricing import CatalogueError, load_catalogue

    settings = _settings()
    body: dict = {part: {} for part in _CALC_FLAGS}
    for part, names in _CALC_FLAGS.items():
        body[part] = {name: figures[name] for name in names if figures[name] is not None}
    if model_ref:
        provider, _, model = model_ref.partition("/") if "/" in model_ref else ("groq", "", model_ref)
        body["api"].update(provider=provider, model=model)
    if plan_name:
        body["selfhost"]["plan"] = plan_name
    if not body["workload"]:
        del body["workload"]
    try:
        result = calculate(load_catalogue(settings.pricing_file), body)
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from exc
    except ApiError as exc:
        flags = (
            "; ".join(f"--{d['field'].split('.')[-1].replace('_', '-')}: {d['message']}" for d in exc.details or [])
            or exc.message
        )
        raise click.ClickException(flags) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(_calc_report(result))


def _calc_report(result: dict) -> str:
    from service.tables import render_table

    inputs = result["inputs"]
    api, workload, selfhost = inputs["api"], inputs["workload"], inputs["selfhost"]
    sources = inputs["sources"]
    rows = [
        ["API cost per prompt", f"${result['api_cost_per_prompt']:.6f}"],
        ["Replica cost per day", f"${result['replica_cost_per_day']:,.2f}"],
        [
            "Capacity per replica",
            f"{result['capacity_prompts_per_day']:,.0f} prompts/day" if result["capacity_checked"] else "unchecked",
        ],
    ]
    if result["verdict"] == "breaks_even":
        rows += [
            ["Replicas", str(result["replicas"])],
            [
                "Break-even",
                f"{result['breakeven_prompts_per_day']:,.1f} prompts/day "
                f"({result['breakeven_prompts_per_day_rounded']:,} rounded)",
            ],
            [
                "Self-host cost",
                f"${result['selfhost_cost_per_day']:,.2f}/day, "
                f"${result['selfhost_cost_per_month']:,.2f}/month (30 days)",
            ],
        ]
    else:
        rows.append(["Break-even", "never"])
    assumptions = [
        f"API: ${api['input_per_m']:g}/M input, ${api['cached_input_per_m']:g}/M cached, "
        f"${api['output_per_m']:g}/M output, batch discount {api['batch_discount']:.0%}"
        + (
            f" ({sources['api']['provider']}/{sources['api']['model']}, {sources['api']['source']}, "
            f"as of {sources['api']['as_of']})"
            if "api" in sources
            else ""
        ),
        f"Workload: {workload['prompt_tokens']:,.0f} prompt tokens ({workload['cached_tokens']:,.0f} cached), "
        f"{workload['completion_tokens']:,.0f} completion tokens, peak/average {workload['peak_to_average']:g}",
        f"Self-host: {selfhost['gpus_per_replica']} GPU(s) at ${selfhost['gpu_hourly']:g}/h, always on, "
        f"max utilization {selfhost['max_utilization']:.0%}, ops ${selfhost['ops_per_day']:g}/day"
        + (
            f" (plan {sources['selfhost']['plan']}: {sources['selfhost']['source']}, as of "
            f"{sources['selfhost']['as_of']})"
            if "selfhost" in sources
            else ""
        ),
    ]
    if not result["capacity_checked"]:
        assumptions.append(
            "Capacity is NOT checked: without --requests-per-second one replica is assumed to "
            "serve any volume. Measure it with `breakeven measure`."
        )
    lines = [render_table(["", ""], rows).split("\n", 2)[2], "", result["summary"], "", "Assumptions:"]
    lines += [f"  - {a}" for a in assumptions]
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option("--no-deliver", is_flag=True, help="Raise alerts but leave delivery to the scheduler.")
def check(as_json: bool, no_deliver: bool) -> None:
    """Evaluate every model once, raise due alerts, deliver them, and print each model's status."""
    from service.checks import CheckRuntime, run_check
    from service.delivery import deliver_due

    settings = _settings()
    runtime = CheckRuntime.from_settings(settings)
    try:
        report = run_check(runtime, deliver=False)
        delivered = {} if no_deliver else deliver_due(runtime)
    finally:
        runtime.db.dispose()
    if as_json:
        click.echo(json.dumps({"models": report, "deliveries": delivered}, indent=2, default=str))
        return
    if not report:
        click.echo("No runs logged yet: nothing to evaluate.")
    for status in report:
        raised = ", ".join(a["type"] for a in status["alerts"]) or "no new alert"
        click.echo(f"[{status['level']}] {status['provider']}/{status['model']}: {status['verdict']} ({raised})")
    if delivered:
        click.echo("Deliveries: " + ", ".join(f"{n} {state}" for state, n in sorted(delivered.items())))


@main.command()
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Stop when this process ends (used by `breakeven serve`).",
)
def scheduler(parent_pid: int | None) -> None:
    """Run the alert scheduler alone: the single scheduler process of a multi-process deployment.

    Evaluates every BREAKEVEN_CHECK_INTERVAL seconds and delivers due webhooks every few seconds.
    Stops cleanly on SIGTERM or Ctrl-C.
    """
    import logging

    from service.scheduler import run_blocking

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings()
    if parent_pid is None:
        _upgrade(settings)
        click.echo(f"scheduler running: checks every {settings.check_interval}s", err=True)
    run_blocking(settings, parent_pid)


@main.command("collect-n8n")
@click.option(
    "--n8n-url",
    envvar="BREAKEVEN_N8N_URL",
    metavar="URL",
    help="n8n's base URL, e.g. http://localhost:5678 (env BREAKEVEN_N8N_URL).",
)
@click.option(
    "--n8n-api-key",
    envvar="BREAKEVEN_N8N_API_KEY",
    metavar="KEY",
    help="An n8n API key with execution:read/list and workflow:read (env BREAKEVEN_N8N_API_KEY).",
)
@click.option("--from-start", is_flag=True, help="Re-read every execution, ignoring where the last run stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def collect_n8n(n8n_url: str | None, n8n_api_key: str | None, from_start: bool, as_json: bool) -> None:
    """Log the tokens of n8n's AI Agent / Basic LLM Chain chat-model calls from n8n's executions API.

    Those nodes hide token usage from the nodes after them, so a workflow cannot log it itself. Each chat-model
    call becomes one run with the id n8n:<execution>:<node>:<run index>: collecting again never counts twice,
    and the command remembers where it stopped.
    """
    from service.collector import CollectorError, N8nClient, collect
    from service.db import Database
    from service.ledger import Ledger
    from service.pricing import load_catalogue

    if not n8n_url or not n8n_api_key:
        raise click.UsageError("set --n8n-url and --n8n-api-key (or BREAKEVEN_N8N_URL and BREAKEVEN_N8N_API_KEY)")
    settings = _settings()
    _upgrade(settings)
    database = Database(settings.database_url)
    ledger = Ledger(database, load_catalogue(settings.pricing_file), settings.tz)
    on_terminal = sys.stderr.isatty() and not as_json

    def progress(report) -> None:
        if on_terminal:
            click.echo(
                f"\r{report.executions:,} executions read, {report.llm_calls:,} LLM calls, {report.created:,} new",
                err=True,
                nl=False,
            )

    try:
        report = collect(ledger, N8nClient(n8n_url, n8n_api_key), progress, from_start=from_start)
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.dispose()
    if on_terminal:
        click.echo(err=True)
    if as_json:
        click.echo(json.dumps(report.__dict__))
        return
    click.echo(
        f"{report.executions:,} finished executions read, {report.llm_calls:,} LLM calls found: "
        f"{report.created:,} logged, {report.duplicates:,} already in the ledger"
        + (f", {report.conflicts:,} in the ledger with other numbers (kept)" if report.conflicts else "")
        + (f", {report.skipped:,} skipped (invalid usage)" if report.skipped else "")
        + "."
        + (f" {report.pending:,} unfinished executions will be read once they finish." if report.pending else "")
    )


def _register_commands_of_other_modules() -> None:
    from service.measure.cli import measure

    main.add_command(measure)


_register_commands_of_other_modules()

if __name__ == "__main__":
    sys.exit(main())
