"""The alert scheduler (APScheduler 3.x): evaluate every model on an interval and deliver due webhooks.

One scheduler per deployment: `breakeven serve` starts it as a child of gunicorn's master; with several web
processes, `breakeven scheduler` runs on its own. Jobs are idempotent (alerts are unique in the database),
so an accidental second scheduler costs work, not duplicate alerts.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from service.config import Settings

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 5
COLLECT_INTERVAL_SECONDS = 300
_runtime = None


def _runtime_for(settings: Settings):
    """The scheduler's own database handle and catalogue, created once in the process that runs the jobs."""
    global _runtime
    if _runtime is None:
        from service.checks import CheckRuntime

        _runtime = CheckRuntime.from_settings(settings)
    return _runtime


def check_job(settings: Settings) -> None:
    from service.checks import run_check

    run_check(_runtime_for(settings))


def delivery_job(settings: Settings) -> None:
    from service.delivery import deliver_due

    deliver_due(_runtime_for(settings))


def collector_job(settings: Settings) -> None:
    from service.collector import CollectorError, N8nClient, collect
    from service.ledger import Ledger

    runtime = _runtime_for(settings)
    ledger = Ledger(runtime.db, runtime.catalogue, settings.tz)
    try:
        report = collect(ledger, N8nClient(settings.n8n_url, settings.n8n_api_key.get_secret_value()))
    except CollectorError as exc:
        log.warning("n8n collector: %s", exc)
        return
    if report.created:
        log.info("n8n collector: %s new LLM calls from %s executions", report.created, report.executions)


def add_jobs(scheduler: BaseScheduler, settings: Settings) -> None:
    common = {
        "replace_existing": True,
        "max_instances": 1,
        "coalesce": True,
        "kwargs": {"settings": settings},
    }
    scheduler.add_job(
        check_job,
        "interval",
        seconds=settings.check_interval,
        id="breakeven-check",
        next_run_time=datetime.now(UTC),
        **common,
    )
    scheduler.add_job(delivery_job, "interval", seconds=DELIVERY_INTERVAL_SECONDS, id="breakeven-deliver", **common)
    if settings.n8n_url and settings.n8n_api_key:
        scheduler.add_job(
            collector_job,
            "interval",
            seconds=COLLECT_INTERVAL_SECONDS,
            id="breakeven-collect-n8n",
            next_run_time=datetime.now(UTC),
            **common,
        )


def gunicorn_hooks(settings: Settings) -> dict:
    """gunicorn server hooks for `breakeven serve`: the scheduler runs as a child process of the master.

    Not as threads inside the master: gunicorn forks workers from the master, and a fork taken while a
    scheduler thread holds a lock (an import, a logger, a connection pool) deadlocks the new worker.
    """
    state: dict = {}

    def when_ready(server) -> None:
        command = [sys.executable, "-m", "service.cli", "scheduler", "--parent-pid", str(os.getpid())]
        state["process"] = subprocess.Popen(command)
        server.log.info("alert scheduler started (pid %s, every %ss)", state["process"].pid, settings.check_interval)

    def on_exit(server) -> None:
        process = state.get("process")
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    return {"when_ready": when_ready, "on_exit": on_exit}


def _exit_when_orphaned(scheduler: BaseScheduler, parent_pid: int) -> None:
    # A SIGKILLed `breakeven serve` cannot stop its scheduler; the scheduler notices it was re-parented.
    if os.getppid() != parent_pid:
        log.info("parent %s is gone: stopping scheduler", parent_pid)
        scheduler.shutdown(wait=False)


def run_blocking(settings: Settings, parent_pid: int | None = None) -> None:
    """`breakeven scheduler`: run the jobs in this process until SIGINT or SIGTERM (or the parent's end)."""
    scheduler = BlockingScheduler(timezone=UTC)
    add_jobs(scheduler, settings)
    if parent_pid is not None:
        scheduler.add_job(
            _exit_when_orphaned,
            "interval",
            seconds=2,
            id="breakeven-parent-watch",
            args=[scheduler, parent_pid],
            replace_existing=True,
        )

    def stop(signum, _frame) -> None:
        log.info("stopping scheduler (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
