"""The alert scheduler (APScheduler 3.x): evaluate every model on an interval and deliver due webhooks.

One scheduler per deployment: inside `breakeven serve` it runs in gunicorn's master process; with several web
processes, `breakeven scheduler` is its own process. Jobs are idempotent (alerts are unique in the database),
so an accidental second scheduler costs work, not duplicate alerts.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from service.config import Settings

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 5
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


def add_jobs(scheduler: BaseScheduler, settings: Settings) -> None:
    common = {"replace_existing": True, "max_instances": 1, "coalesce": True, "kwargs": {"settings": settings}}
    scheduler.add_job(check_job, "interval", seconds=settings.check_interval, id="breakeven-check",
                      next_run_time=datetime.now(UTC), **common)
    scheduler.add_job(delivery_job, "interval", seconds=DELIVERY_INTERVAL_SECONDS, id="breakeven-deliver",
                      **common)


def gunicorn_hooks(settings: Settings) -> dict:
    """gunicorn server hooks that run the scheduler in the master process of `breakeven serve`."""
    scheduler = BackgroundScheduler(timezone=UTC)

    def when_ready(server) -> None:
        add_jobs(scheduler, settings)
        scheduler.start()
        server.log.info("alert scheduler started (every %ss)", settings.check_interval)

    def post_fork(server, worker) -> None:
        # Workers inherit the master's pooled connections; dropping them without closing keeps a worker
        # from closing the master's sockets (SQLAlchemy's recipe for forked processes).
        if _runtime is not None:
            _runtime.db.engine.dispose(close=False)

    def on_exit(server) -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)

    return {"when_ready": when_ready, "post_fork": post_fork, "on_exit": on_exit}


def run_blocking(settings: Settings) -> None:
    """`breakeven scheduler`: run the jobs in this process until SIGINT or SIGTERM."""
    scheduler = BlockingScheduler(timezone=UTC)
    add_jobs(scheduler, settings)

    def stop(signum, _frame) -> None:
        log.info("stopping scheduler (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
