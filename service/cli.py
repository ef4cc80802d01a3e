"""The `breakeven` command line."""

from __future__ import annotations

import json
import os
import sys

import click

from service.config import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message names the variable; a traceback would only hide it
        raise click.ClickException(f"configuration error: {exc}") from exc


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
    click.option("--host", default=DEFAULT_HOST, show_default=True,
                 help="Address to listen on. Use 0.0.0.0 only behind a firewall or proxy."),
    click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535)),
    click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
                 help="Worker processes (one per core is a good start)."),
    click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
                 help="Threads per worker."),
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
        click.echo(json.dumps({
            "models": [m.model_dump(mode="json") for m in catalogue.models],
            "gpus": [g.model_dump(mode="json") for g in catalogue.gpus],
            "plans": [p.model_dump(mode="json") for p in catalogue.plans],
        }, indent=2))
        return
    from service.tables import render_table

    click.echo("API models (USD per million tokens)")
    click.echo(render_table(
        ["provider/model", "input", "cached", "output", "retired", "as of", "source"],
        [[m.key, f"{m.input_per_m:g}", f"{m.cached_input_per_m:g}" if m.cached_input_per_m is not None else "-",
          f"{m.output_per_m:g}", str(m.retired or "-"), str(m.as_of), m.source] for m in catalogue.models],
    ))
    click.echo("\nGPUs (USD per GPU-hour)")
    click.echo(render_table(
        ["provider/gpu", "hourly", "VRAM GB", "as of", "source"],
        [[g.key, f"{g.hourly:g}", f"{g.vram_gb:g}" if g.vram_gb else "-", str(g.as_of), g.source]
         for g in catalogue.gpus],
    ))
    click.echo("\nSelf-host plans")
    click.echo(render_table(
        ["plan", "replaces", "gpu", "GPUs", "req/s", "as of", "source"],
        [[p.name, p.replaces or "-", p.gpu or f"${p.gpu_hourly:g}/h", str(p.gpus_per_replica),
          f"{p.requests_per_second:g}" if p.requests_per_second else "unmeasured", str(p.as_of), p.source]
         for p in catalogue.plans],
    ))
    if settings.pricing_file.exists():
        click.echo(f"\n(merged with {settings.pricing_file})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
